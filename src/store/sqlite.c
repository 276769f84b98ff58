/*
 * The SQLite driver: one file, <data_dir>/moat.db, in WAL mode with
 * synchronous=FULL on every connection, so a commit is on disk when it
 * returns (one fsync of the WAL per transaction; the writer batches many
 * writes into one). This file opens and migrates the database and closes
 * it; the reads and the writes are in sqlite-read.c and sqlite-write.c.
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

/*
 * The migrations, in order: migration i takes the schema from version i to
 * i + 1. A published migration never changes; a new schema is a new entry.
 * STRICT tables: a value of the wrong type is an error, not a silent
 * conversion.
 */
#define SQ_STEP_COLUMNS(p)                                                                         \
    p "verdict TEXT, " p "exit_code INTEGER NOT NULL DEFAULT 0, " p                                \
      "signal INTEGER NOT NULL DEFAULT 0, " p "time_ms INTEGER NOT NULL DEFAULT 0, " p             \
      "wall_time_ms INTEGER NOT NULL DEFAULT 0, " p "memory_kb INTEGER NOT NULL DEFAULT 0, " p     \
      "stdout_truncated INTEGER NOT NULL DEFAULT 0, " p                                            \
      "stderr_truncated INTEGER NOT NULL DEFAULT 0, " p "cached INTEGER NOT NULL DEFAULT 0, " p    \
      "message TEXT NOT NULL DEFAULT ''"

static const char *const migrations[] = {
    /* 1: jobs and blobs */
    "CREATE TABLE jobs ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN"
    "  ('queued', 'running', 'completed', 'failed', 'cancelled')),"
    " language TEXT NOT NULL, language_given TEXT NOT NULL, version TEXT NOT NULL,"
    " priority INTEGER NOT NULL,"
    " time_ms INTEGER NOT NULL, wall_time_ms INTEGER NOT NULL, memory_mb INTEGER NOT NULL,"
    " max_processes INTEGER NOT NULL, max_output_kb INTEGER NOT NULL,"
    " max_file_kb INTEGER NOT NULL, max_open_files INTEGER NOT NULL,"
    " stack_kb INTEGER NOT NULL,"
    " nfiles INTEGER NOT NULL, code_single INTEGER NOT NULL, stdin_len INTEGER NOT NULL,"
    " args_json TEXT NOT NULL, metadata_json TEXT, tags_json TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT 0,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " code_hash TEXT NOT NULL, output_hash TEXT NOT NULL DEFAULT '',"
    " compiled INTEGER NOT NULL DEFAULT 0, " SQ_STEP_COLUMNS("c_") ", " SQ_STEP_COLUMNS(
        "r_") ") STRICT;"
              /* recovery lists the unfinished jobs, oldest first, without a scan */
              "CREATE INDEX jobs_pending ON jobs (created_ms, id)"
              " WHERE status IN ('queued', 'running');"
              /* rowid table: blobs reach megabytes, too big for a WITHOUT ROWID b-tree */
              "CREATE TABLE blobs (key TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL) STRICT;",
};

static int exec_sql(sqlite3 *db, const char *sql, struct moat_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    int r = moat_err_set(err, sq_errno(rc), "cannot migrate the store: %s",
                         msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return r;
}

/* The schema version, 0 for a new database. */
static int schema_version(sqlite3 *db, int64_t *out, struct moat_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                                NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return moat_err_set(err, sq_errno(rc), "cannot read the schema version: %s",
                            sqlite3_errmsg(db));
    return 0;
}

static int migrate_locked(sqlite3 *db, struct moat_err *err)
{
    int r = exec_sql(db,
                     "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER PRIMARY KEY NOT NULL,"
                     " applied_ms INTEGER NOT NULL) STRICT",
                     err);
    if (r < 0)
        return r;
    int64_t v = 0;
    r = schema_version(db, &v, err);
    if (r < 0)
        return r;
    const int64_t latest = (int64_t)MOAT_ARRAY_SIZE(migrations);
    if (v > latest || v < 0)
        return moat_err_set(err, -EPROTO,
                            "the store has schema version %lld, this moat knows up to %lld",
                            (long long)v, (long long)latest);
    for (int64_t i = v; i < latest; i++) {
        r = exec_sql(db, migrations[i], err);
        if (r < 0)
            return r;
        char sql[128];
        (void)snprintf(sql, sizeof(sql),
                       "INSERT INTO schema_version (version, applied_ms) VALUES (%lld, %llu)",
                       (long long)(i + 1), (unsigned long long)moat_realtime_ms());
        r = exec_sql(db, sql, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Brings the schema to the latest version in one transaction (a crash
 * midway leaves the old version whole). */
static int migrate(sqlite3 *db, struct moat_err *err)
{
    int r = exec_sql(db, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return r;
    r = migrate_locked(db, err);
    if (r < 0) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return exec_sql(db, "COMMIT", err);
}

/* WAL is a property of the file: set once, it stays. */
static int set_wal(sqlite3 *db, struct moat_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    bool wal = false;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        wal = mode && strcmp((const char *)mode, "wal") == 0;
        rc = SQLITE_OK;
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return moat_err_set(err, sq_errno(rc), "cannot enable WAL: %s", sqlite3_errmsg(db));
    if (!wal)
        return moat_err_set(err, -EIO, "the store refused WAL mode");
    return 0;
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
    .start = sq_start,
    .start_begin = sq_start_begin,
    .start_wait = sq_start_wait,
    .finish = sq_finish,
    .requeue = sq_requeue,
    .cancel = sq_cancel,
    .list_pending = sq_list_pending,
    .ready = sq_ready,
    .stats = sq_stats,
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
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcond, NULL);

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
    free(real);
    if (n < 0 || (size_t)n >= sizeof(s->path)) {
        r = moat_err_field(err, -ENAMETOOLONG, "data_dir", "data directory path too long");
        goto out;
    }
    r = sq_connect(s->path, false, &s->wdb, err);
    if (r < 0)
        goto out;
    /* The writer touches the newest pages of every index on each insert:
     * a bigger cache than the 2 MiB default keeps them in memory; 8 MiB
     * holds them with room to spare and keeps a long-running server's RSS
     * bounded (blobs pass through once and need no caching). */
    (void)sqlite3_exec(s->wdb, "PRAGMA cache_size=-8192", NULL, NULL, NULL);
    r = set_wal(s->wdb, err);
    if (r < 0)
        goto out;
    r = migrate(s->wdb, err);
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
