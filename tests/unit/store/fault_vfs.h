/*
 * A fault-injecting SQLite VFS for the store's tests (SQLite's own tests do
 * the same): a shim over the default "unix" VFS, registered as the default,
 * so that every connection the store opens goes through it. While a fault
 * is set, every write to a file (database, WAL) fails with that SQLite
 * code (SQLITE_FULL: the disk is full; SQLITE_IOERR_WRITE: an I/O error)
 * and reads keep working, which is what a full disk looks like to SQLite.
 * Everything else is passed through.
 *
 * The calls are counted, and a test can wait for the count to move (a
 * write attempt is the event that says the writer tried).
 */
#ifndef MOAT_FAULT_VFS_H
#define MOAT_FAULT_VFS_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "../moat_test.h"
#include <time.h>

struct fault_vfs_state {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int write_rc;           /* 0, or what each write returns */
    unsigned long writes;   /* write attempts, failed or not */
    unsigned long failures; /* writes failed by the fault */
    sqlite3_vfs *real;
    sqlite3_vfs vfs;
};

static struct fault_vfs_state fault_vfs = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

struct fault_file {
    sqlite3_file base;
    sqlite3_file *real; /* allocated right after this struct */
};

#define FAULT_REAL(f) (((struct fault_file *)(f))->real)

static int fault_close(sqlite3_file *f)
{
    return FAULT_REAL(f)->pMethods->xClose(FAULT_REAL(f));
}

static int fault_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return FAULT_REAL(f)->pMethods->xRead(FAULT_REAL(f), p, n, off);
}

static int fault_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    pthread_mutex_lock(&fault_vfs.mu);
    int rc = fault_vfs.write_rc;
    fault_vfs.writes++;
    fault_vfs.failures += rc != 0;
    pthread_cond_broadcast(&fault_vfs.cond);
    pthread_mutex_unlock(&fault_vfs.mu);
    if (rc != 0)
        return rc;
    return FAULT_REAL(f)->pMethods->xWrite(FAULT_REAL(f), p, n, off);
}

static int fault_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return FAULT_REAL(f)->pMethods->xTruncate(FAULT_REAL(f), size);
}

static int fault_sync(sqlite3_file *f, int flags)
{
    return FAULT_REAL(f)->pMethods->xSync(FAULT_REAL(f), flags);
}

static int fault_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return FAULT_REAL(f)->pMethods->xFileSize(FAULT_REAL(f), size);
}

static int fault_lock(sqlite3_file *f, int l)
{
    return FAULT_REAL(f)->pMethods->xLock(FAULT_REAL(f), l);
}

static int fault_unlock(sqlite3_file *f, int l)
{
    return FAULT_REAL(f)->pMethods->xUnlock(FAULT_REAL(f), l);
}

static int fault_check_lock(sqlite3_file *f, int *out)
{
    return FAULT_REAL(f)->pMethods->xCheckReservedLock(FAULT_REAL(f), out);
}

static int fault_control(sqlite3_file *f, int op, void *arg)
{
    return FAULT_REAL(f)->pMethods->xFileControl(FAULT_REAL(f), op, arg);
}

static int fault_sector(sqlite3_file *f)
{
    return FAULT_REAL(f)->pMethods->xSectorSize(FAULT_REAL(f));
}

static int fault_caps(sqlite3_file *f)
{
    return FAULT_REAL(f)->pMethods->xDeviceCharacteristics(FAULT_REAL(f));
}

static int fault_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
    return FAULT_REAL(f)->pMethods->xShmMap(FAULT_REAL(f), pg, sz, extend, pp);
}

static int fault_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return FAULT_REAL(f)->pMethods->xShmLock(FAULT_REAL(f), off, n, flags);
}

static void fault_shm_barrier(sqlite3_file *f)
{
    FAULT_REAL(f)->pMethods->xShmBarrier(FAULT_REAL(f));
}

static int fault_shm_unmap(sqlite3_file *f, int del)
{
    return FAULT_REAL(f)->pMethods->xShmUnmap(FAULT_REAL(f), del);
}

/* Version 2 of the methods: WAL needs the shm ones; no mmap (version 3),
 * so that every write goes through xWrite. */
static const sqlite3_io_methods fault_methods = {
    .iVersion = 2,
    .xClose = fault_close,
    .xRead = fault_read,
    .xWrite = fault_write,
    .xTruncate = fault_truncate,
    .xSync = fault_sync,
    .xFileSize = fault_size,
    .xLock = fault_lock,
    .xUnlock = fault_unlock,
    .xCheckReservedLock = fault_check_lock,
    .xFileControl = fault_control,
    .xSectorSize = fault_sector,
    .xDeviceCharacteristics = fault_caps,
    .xShmMap = fault_shm_map,
    .xShmLock = fault_shm_lock,
    .xShmBarrier = fault_shm_barrier,
    .xShmUnmap = fault_shm_unmap,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct fault_file *ff = (struct fault_file *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = fault_vfs.real->xOpen(fault_vfs.real, name, ff->real, flags, out);
    ff->base.pMethods = ff->real->pMethods ? &fault_methods : NULL;
    return rc;
}

/* The rest of a VFS is the real one's. */
static int fault_delete(sqlite3_vfs *v, const char *n, int sync)
{
    (void)v;
    return fault_vfs.real->xDelete(fault_vfs.real, n, sync);
}

static int fault_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
    (void)v;
    return fault_vfs.real->xAccess(fault_vfs.real, n, flags, out);
}

static int fault_full_path(sqlite3_vfs *v, const char *n, int size, char *out)
{
    (void)v;
    return fault_vfs.real->xFullPathname(fault_vfs.real, n, size, out);
}

static int fault_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return fault_vfs.real->xRandomness(fault_vfs.real, n, out);
}

static int fault_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return fault_vfs.real->xSleep(fault_vfs.real, us);
}

static int fault_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return fault_vfs.real->xCurrentTime(fault_vfs.real, out);
}

static int fault_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return fault_vfs.real->xGetLastError(fault_vfs.real, n, out);
}

static int fault_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return fault_vfs.real->xCurrentTimeInt64(fault_vfs.real, out);
}

/* Registers the shim as the default VFS (once, before any connection). */
static inline void fault_vfs_install(void)
{
    if (fault_vfs.real)
        return;
    fault_vfs.real = sqlite3_vfs_find("unix");
    fault_vfs.vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct fault_file) + fault_vfs.real->szOsFile,
        .mxPathname = fault_vfs.real->mxPathname,
        .zName = "moat-fault",
        .xOpen = fault_open,
        .xDelete = fault_delete,
        .xAccess = fault_access,
        .xFullPathname = fault_full_path,
        .xDlOpen = NULL,
        .xRandomness = fault_random,
        .xSleep = fault_sleep,
        .xCurrentTime = fault_time,
        .xGetLastError = fault_last_error,
        .xCurrentTimeInt64 = fault_time64,
    };
    (void)sqlite3_vfs_register(&fault_vfs.vfs, 1);
}

/* From now on every write fails with rc (0: none does). */
static inline void fault_vfs_set(int rc)
{
    pthread_mutex_lock(&fault_vfs.mu);
    fault_vfs.write_rc = rc;
    pthread_mutex_unlock(&fault_vfs.mu);
}

static inline unsigned long fault_vfs_failures(void)
{
    pthread_mutex_lock(&fault_vfs.mu);
    unsigned long n = fault_vfs.failures;
    pthread_mutex_unlock(&fault_vfs.mu);
    return n;
}

/* Waits until `failures` reaches at least n: false after timeout_ms. */
static inline bool fault_vfs_wait_failures(unsigned long n, int timeout_ms)
{
    struct timespec until = moat_test_abstime_ms(timeout_ms);
    pthread_mutex_lock(&fault_vfs.mu);
    while (fault_vfs.failures < n &&
           pthread_cond_timedwait(&fault_vfs.cond, &fault_vfs.mu, &until) == 0)
        ;
    bool ok = fault_vfs.failures >= n;
    pthread_mutex_unlock(&fault_vfs.mu);
    return ok;
}

#endif
