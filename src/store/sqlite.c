/*
 * The SQLite driver: one file, <data_dir>/moat.db, in WAL mode with
 * synchronous=FULL on every connection, so a commit is on disk when it
 * returns (one fsync of the WAL per transaction; the writer batches many
 * writes into one). This file opens and migrates the database and closes
 * it; what the file must be and its schema are in sqlite-schema.c, the
 * reads and the writes in sqlite-read.c and sqlite-write.c.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "sqlite-internal.h"
#include "moat/util.h"

int sq_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
            return -EEXIST;
        return -EINVAL;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_TOOBIG:
        return -E2BIG;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    default:
        return -EIO;
    }
}

int sq_connect(const char *path, bool readonly, sqlite3 **out, struct moat_err *err)
{
    /* NOMUTEX: each connection is used by one thread at a time (see
     * sqlite-internal.h). NOFOLLOW: a symlink in the path (path is
     * resolved by store_open) does not redirect the database. */
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOFOLLOW |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        int r = moat_err_set(err, sq_errno(rc), "cannot open %s: %s", path,
                             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return r;
    }
    (void)sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int r = moat_err_set(err, sq_errno(rc), "cannot set up %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return r;
    }
    *out = db;
    return 0;
}

int sq_prepare(sqlite3 *db, const char *const *sql, size_t n, sqlite3_stmt **st,
               struct moat_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
        if (rc != SQLITE_OK) {
            int r = moat_err_set(err, sq_errno(rc), "cannot prepare a statement: %s",
                                 sqlite3_errmsg(db));
            sq_finalize(st, i);
            return r;
        }
    }
    return 0;
}

void sq_finalize(sqlite3_stmt **st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        (void)sqlite3_finalize(st[i]);
        st[i] = NULL;
    }
}

/* mkdir -p with 0700 for the parts it makes. */
static int make_dirs(const char *dir, struct moat_err *err)
{
    char p[4096];
    if (moat_strlcpy(p, dir, sizeof(p)) >= sizeof(p))
        return moat_err_field(err, -ENAMETOOLONG, "data_dir", "data directory path too long");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return moat_err_field(err, -errno, "data_dir", "cannot create %s: %s", p,
                                  strerror(errno));
        *s = c;
        if (c == '\0')
            break;
    }
    struct stat sb;
    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return moat_err_field(err, -ENOTDIR, "data_dir", "%s is not a directory", dir);
    return 0;
}

static void sq_stats(struct store *st, struct store_stats *out)
{
    struct sq_store *s = (struct sq_store *)st;
    out->writes = __atomic_load_n(&s->n_writes, __ATOMIC_RELAXED);
    out->commits = __atomic_load_n(&s->n_commits, __ATOMIC_RELAXED);
    out->retries = __atomic_load_n(&s->n_retries, __ATOMIC_RELAXED);
    out->checkpoints = __atomic_load_n(&s->n_checkpoints, __ATOMIC_RELAXED);
}

static void sq_close(struct store *st)
{
    struct sq_store *s = (struct sq_store *)st;
    if (!s)
        return;
    sq_writer_stop(s);
    if (s->wdb)
        sq_checkpoint(s);
    sq_readers_close(s);
    (void)sqlite3_close(s->adb);
    pthread_mutex_destroy(&s->amu);
    sq_finalize(s->wst, SQW_MAX_);
    (void)sqlite3_close(s->wdb);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->rcond);
    free(s);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .insert_async = sq_insert_async,
    .get = sq_get,
    .get_output = sq_get_output,
    .start_begin = sq_start_begin,
    .start_wait = sq_start_wait,
    .finish = sq_finish,
    .requeue = sq_requeue,
    .cancel = sq_cancel,
    .list_pending = sq_list_pending,
    .list = sq_list,
    .ready = sq_ready,
    .callback_due = sq_callback_due,
    .callback_claim = sq_callback_claim,
    .callback_record = sq_callback_record,
    .stats = sq_stats,
    .key_add = sq_key_add,
    .key_list = sq_key_list,
    .key_revoke = sq_key_revoke,
    .idem_claim = sq_idem_claim,
    .idem_settle = sq_idem_settle,
    .idem_drop = sq_idem_drop,
};

int store_sqlite_open(const struct moat_config *cfg, struct store **out, struct moat_err *err)
{
    if (!cfg->data_dir[0])
        return moat_err_field(err, -EINVAL, "data_dir", "no data directory");
    struct sq_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->base.ops = &sq_ops;
    pthread_mutex_init(&s->mu, NULL);
    /* the writer's timed waits (probes) are on the monotonic clock */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcond, NULL);
    pthread_mutex_init(&s->amu, NULL);

    int r = make_dirs(cfg->data_dir, err);
    if (r < 0)
        goto out;
    /* The configured directory may be a symlink (an admin's choice); the
     * resolved path has none, so SQLITE_OPEN_NOFOLLOW then refuses only a
     * symlink planted as moat.db. */
    char *real = realpath(cfg->data_dir, NULL);
    if (!real) {
        r = moat_err_field(err, -errno, "data_dir", "cannot resolve %s: %s", cfg->data_dir,
                           strerror(errno));
        goto out;
    }
    int n = snprintf(s->path, sizeof(s->path), "%s/moat.db", real);
    moat_strlcpy(s->dir, real, sizeof(s->dir));
    free(real);
    if (n < 0 || (size_t)n >= sizeof(s->path)) {
        r = moat_err_field(err, -ENAMETOOLONG, "data_dir", "data directory path too long");
        goto out;
    }
    /* Before anything can write to it: a file that is not moat's is
     * refused untouched (sqlite-schema.c). */
    r = sq_identify(s->path, err);
    if (r < 0)
        goto out;
    r = sq_connect(s->path, false, &s->wdb, err);
    if (r < 0)
        goto out;
    /* The writer touches the newest pages of every index on each insert:
     * a bigger cache than the 2 MiB default keeps them in memory; 8 MiB
     * holds them with room to spare and keeps a long-running server's RSS
     * bounded (blobs pass through once and need no caching). */
    (void)sqlite3_exec(s->wdb, "PRAGMA cache_size=-8192", NULL, NULL, NULL);
    r = sq_set_wal(s->wdb, err);
    if (r < 0)
        goto out;
    r = sq_migrate(s->wdb, s->path, err);
    if (r < 0)
        goto out;
    r = sq_writer_start(s, err);
out:
    if (r < 0) {
        sq_close(&s->base);
        return r;
    }
    *out = &s->base;
    return 0;
}
