/*
 * The SQLite driver's file: what it must be before moat writes to it, and
 * its schema.
 *
 * Identification comes first and writes nothing. A data directory may be
 * pointed at by mistake at another application's database; switching that
 * file to WAL, or adding tables to it, would damage data that is not
 * moat's. So <data_dir>/moat.db is read with a connection that cannot
 * write (and, where that is exact, with immutable=1, which creates no -wal
 * or -shm either), and it is taken only when it is
 *   - absent, empty (0 bytes), or an SQLite database with no schema at all
 *     (moat makes it a store);
 *   - a moat store: application_id SQ_APPLICATION_ID (every store since
 *     this check existed);
 *   - a moat store from before the application_id: application_id 0 and a
 *     schema identical, object for object and SQL text for SQL text, to
 *     what moat's migrations make at the version its schema_version table
 *     names. Migration gives it the application_id.
 * Anything else is refused with a message naming the file, which is left
 * as it was.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "sqlite-internal.h"
#include "moat/util.h"

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
    /* 2: judging the run's output: how (NULL: not judged); the expected
     * output is the blob expected.bin. Test cases. */
    /* OR, not IN: SQLite evaluates an IN list of more than two values
     * against a bound parameter through an ephemeral index, made and freed
     * at every insert (measured: 60 us of CPU per submission) */
    "ALTER TABLE jobs ADD COLUMN compare TEXT CHECK (compare = 'exact' OR compare = 'trim' OR"
    " compare = 'tokens' OR compare = 'float');"
    "ALTER TABLE jobs ADD COLUMN abs_tol REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN rel_tol REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN expected_len INTEGER NOT NULL DEFAULT 0;"
    /* test cases: how many, whether a failure stops them; what each asks
     * is the blob tests.json, what each gave results.json */
    "ALTER TABLE jobs ADD COLUMN ntests INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN stop_on_failure INTEGER NOT NULL DEFAULT 0;",
    /* 3: the webhook of a job (callbackUrl) and its delivery: cb_url NULL =
     * none; cb_attempts counts the attempts claimed (the fencing token of
     * an attempt's outcome); cb_lease_ms: the claim of the node making an
     * attempt holds until then; cb_next_ms: a pending delivery is due then */
    "ALTER TABLE jobs ADD COLUMN cb_url TEXT;"
    "ALTER TABLE jobs ADD COLUMN cb_shape TEXT CHECK (cb_shape = 'native' OR cb_shape = 'judge0');"
    "ALTER TABLE jobs ADD COLUMN cb_status TEXT CHECK (cb_status = 'pending' OR"
    " cb_status = 'delivered' OR cb_status = 'failed');"
    "ALTER TABLE jobs ADD COLUMN cb_attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cb_error TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE jobs ADD COLUMN cb_delivered_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cb_next_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN cb_lease_ms INTEGER NOT NULL DEFAULT 0;"
    /* the poller's question, without a scan: pending deliveries by due time */
    "CREATE INDEX jobs_callbacks ON jobs (cb_next_ms, id) WHERE cb_status = 'pending';",
    /* 4: API keys (only their SHA-256) with their limits (0: the server's),
     * and the answers of Idempotency-Key submissions, per key owner */
    "CREATE TABLE api_keys (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,"
    " hash TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
    " revoked_ms INTEGER NOT NULL DEFAULT 0,"
    " jobs_per_minute INTEGER NOT NULL, concurrent_jobs INTEGER NOT NULL,"
    " max_time_ms INTEGER NOT NULL, max_wall_time_ms INTEGER NOT NULL,"
    " max_memory_mb INTEGER NOT NULL, max_processes INTEGER NOT NULL,"
    " max_output_kb INTEGER NOT NULL, languages TEXT NOT NULL) STRICT;"
    "CREATE TABLE idempotency (owner TEXT NOT NULL, key TEXT NOT NULL,"
    " body_hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " status INTEGER NOT NULL DEFAULT 0, ctype TEXT NOT NULL DEFAULT '',"
    " location TEXT NOT NULL DEFAULT '', body BLOB,"
    " PRIMARY KEY (owner, key)) STRICT;"
    "CREATE INDEX idempotency_age ON idempotency (created_ms);",
};

/* The version table, made before the migrations it counts. */
static const char version_table[] = "CREATE TABLE IF NOT EXISTS schema_version ("
                                    " version INTEGER PRIMARY KEY NOT NULL,"
                                    " applied_ms INTEGER NOT NULL) STRICT";

#define SQ_LATEST_VERSION ((int64_t)MOAT_ARRAY_SIZE(migrations))

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

/* The integer that sql (one row, one column) answers; SQLite's result. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    (void)sqlite3_finalize(st);
    return rc;
}

/* The schema version, 0 for a new database. */
static int schema_version(sqlite3 *db, int64_t *out, struct moat_err *err)
{
    int rc = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", out);
    if (rc != SQLITE_OK)
        return moat_err_set(err, sq_errno(rc), "cannot read the schema version: %s",
                            sqlite3_errmsg(db));
    return 0;
}

static int check_version(const char *path, int64_t v, struct moat_err *err)
{
    if (v > SQ_LATEST_VERSION || v < 0)
        return moat_err_set(err, -EPROTO,
                            "the store %s has schema version %lld, this moat knows up to %lld",
                            path, (long long)v, (long long)SQ_LATEST_VERSION);
    return 0;
}

static int migrate_locked(sqlite3 *db, const char *path, struct moat_err *err)
{
    int r = exec_sql(db, version_table, err);
    if (r < 0)
        return r;
    int64_t v = 0;
    r = schema_version(db, &v, err);
    if (r < 0 || (r = check_version(path, v, err)) < 0)
        return r;
    for (int64_t i = v; i < SQ_LATEST_VERSION; i++) {
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
    /* A store made before moat marked its files (or a new one) gets the
     * mark in the same transaction as its schema. The mark is not a schema
     * change: a moat that predates it still opens the store. */
    int64_t id = 0;
    int rc = query_int(db, "PRAGMA application_id", &id);
    if (rc != SQLITE_OK)
        return moat_err_set(err, sq_errno(rc), "cannot read the application id of %s: %s", path,
                            sqlite3_errmsg(db));
    return id == SQ_APPLICATION_ID ? 0 : exec_sql(db, SQ_SET_APPLICATION_ID, err);
}

int sq_migrate(sqlite3 *db, const char *path, struct moat_err *err)
{
    int r = exec_sql(db, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return r;
    r = migrate_locked(db, path, err);
    if (r < 0) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return exec_sql(db, "COMMIT", err);
}

int sq_set_wal(sqlite3 *db, struct moat_err *err)
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

/* ---- identification: reads only ---- */

/* The 100-byte header of an SQLite database file. */
#define SQ_HEADER_LEN 100
static const char sq_magic[16] = "SQLite format 3";

static int refuse(struct moat_err *err, const char *path, const char *why)
{
    return moat_err_set(err, -EMEDIUMTYPE, "%s is not a moat store (%s): left untouched", path,
                        why);
}

/* Whether path names a file with at least one byte. */
static bool nonempty(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && sb.st_size > 0;
}

/*
 * Looks at path without SQLite: *empty when there is nothing to take over
 * (no file, or 0 bytes); otherwise checks the magic and says whether the
 * header asks for WAL. A symlink, a directory or a short or foreign file is
 * refused here.
 */
static int peek(const char *path, bool *empty, bool *wal, struct moat_err *err)
{
    *empty = false;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        *empty = true;
        return 0;
    }
    if (fd < 0)
        return moat_err_set(err, errno == ELOOP ? -ELOOP : -errno, "cannot open %s: %s", path,
                            errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return moat_err_set(err, -errno, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return refuse(err, path, "not a regular file");
    if (sb.st_size == 0) {
        *empty = true;
        return 0;
    }
    unsigned char h[SQ_HEADER_LEN];
    ssize_t n = pread(fd, h, sizeof(h), 0);
    if (n < 0)
        return moat_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
    if ((size_t)n < sizeof(h) || memcmp(h, sq_magic, sizeof(sq_magic)) != 0)
        return refuse(err, path, "not an SQLite database");
    /* bytes 18 and 19: file format versions, 2 = WAL */
    *wal = h[18] == 2 || h[19] == 2;
    return 0;
}

/* path as a file: URI (every byte outside a safe set percent-encoded),
 * with query. -ENAMETOOLONG. */
static int file_uri(const char *path, const char *query, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    const char prefix[] = "file:";
    if (size < sizeof(prefix))
        return -ENAMETOOLONG;
    memcpy(out, prefix, sizeof(prefix) - 1);
    n = sizeof(prefix) - 1;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("/._-", *p);
        if (n + 4 > size)
            return -ENAMETOOLONG;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    int k = snprintf(out + n, size - n, "?%s", query);
    return k < 0 || (size_t)k >= size - n ? -ENAMETOOLONG : 0;
}

/*
 * A connection that cannot change path or anything beside it. With no
 * journal content beside the file (no non-empty -wal, no -journal), the
 * file alone is the database: immutable=1 reads it without locks and
 * without making a -wal or -shm. When its -wal has content, that is part
 * of the database and must be read through its -shm: readonly_shm=1 reads
 * the -shm as it is (SQLite rebuilds the index in private memory when it
 * must) instead of rewriting it; without a -shm the file cannot be read
 * without making one, and it is not.
 */
static int open_readonly(const char *path, bool wal, sqlite3 **out, struct moat_err *err)
{
    char side[4096 + 16];
    (void)snprintf(side, sizeof(side), "%s-wal", path);
    bool wal_content = wal && nonempty(side);
    (void)snprintf(side, sizeof(side), "%s-shm", path);
    if (wal_content && access(side, F_OK) < 0)
        return moat_err_set(err, -EIO,
                            "cannot read %s: its -wal has content and its -shm is missing", path);
    (void)snprintf(side, sizeof(side), "%s-journal", path);
    const char *query = wal_content               ? "mode=ro&readonly_shm=1"
                        : access(side, F_OK) == 0 ? "mode=ro"
                                                  : "immutable=1";
    char uri[3 * 4096 + 32];
    if (file_uri(path, query, uri, sizeof(uri)) < 0)
        return moat_err_set(err, -ENAMETOOLONG, "the path %s is too long", path);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(uri, &db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        int r = moat_err_set(err, sq_errno(rc), "cannot open %s to read it: %s", path,
                             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        (void)sqlite3_close(db);
        return r;
    }
    *out = db;
    return 0;
}

/* The schema of db as text: every object but SQLite's own, in name order,
 * with its SQL. Caller frees (sqlite3_free). NULL on failure. */
static char *schema_text(sqlite3 *db)
{
    static const char sql[] =
        "SELECT group_concat(type || ' ' || name || ' ' || tbl_name || ': ' ||"
        " coalesce(sql, ''), char(10)) FROM (SELECT * FROM sqlite_schema"
        " WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name)";
    sqlite3_stmt *st = NULL;
    char *text = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        text = sqlite3_mprintf("%s", t ? (const char *)t : "");
    }
    (void)sqlite3_finalize(st);
    return text;
}

/* The schema moat's migrations make at version v, as schema_text says it.
 * Caller frees (sqlite3_free). */
static char *expected_schema(int64_t v)
{
    sqlite3 *mem = NULL;
    char *text = NULL;
    if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
        SQLITE_OK) {
        bool ok = sqlite3_exec(mem, version_table, NULL, NULL, NULL) == SQLITE_OK;
        for (int64_t i = 0; ok && i < v; i++)
            ok = sqlite3_exec(mem, migrations[i], NULL, NULL, NULL) == SQLITE_OK;
        if (ok)
            text = schema_text(mem);
    }
    (void)sqlite3_close(mem);
    return text;
}

/* The names of db's own tables, for a message ("users, posts"). */
static void table_names(sqlite3 *db, char *out, size_t size)
{
    static const char sql[] = "SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_schema"
                              " WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                              " ORDER BY name LIMIT 8)";
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        moat_strlcpy(out, t ? (const char *)t : "", size);
    }
    (void)sqlite3_finalize(st);
}

/* A database without application_id: empty, a moat store from before the
 * mark, or someone else's. */
static int identify_unmarked(sqlite3 *db, const char *path, struct moat_err *err)
{
    int64_t objects = 0, user_version = 0, has_versions = 0, v = 0;
    int rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objects);
    if (rc == SQLITE_OK)
        rc = query_int(db, "PRAGMA user_version", &user_version);
    if (rc == SQLITE_OK)
        rc = query_int(db,
                       "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
                       " AND name = 'schema_version'",
                       &has_versions);
    if (rc != SQLITE_OK)
        return moat_err_set(err, sq_errno(rc), "cannot read the schema of %s: %s", path,
                            sqlite3_errmsg(db));
    if (objects == 0 && user_version == 0)
        return 0; /* an SQLite file with nothing in it: nothing to take over */
    char tables[160];
    table_names(db, tables, sizeof(tables));
    char why[224];
    (void)snprintf(why, sizeof(why), "another application's database, with tables %s",
                   tables[0] ? tables : "(none)");
    if (!has_versions || user_version != 0)
        return refuse(err, path, why);
    rc = query_int(db, "SELECT coalesce(max(version), 0) FROM schema_version", &v);
    if (rc != SQLITE_OK || v < 1 || v > SQ_LATEST_VERSION)
        return refuse(err, path, why);
    char *have = schema_text(db), *want = expected_schema(v);
    bool same = have && want && strcmp(have, want) == 0;
    bool nomem = !have || !want;
    sqlite3_free(have);
    sqlite3_free(want);
    if (nomem)
        return moat_err_set(err, -ENOMEM, "cannot read the schema of %s", path);
    return same ? 0 : refuse(err, path, why);
}

int sq_identify(const char *path, struct moat_err *err)
{
    bool empty = false, wal = false;
    int r = peek(path, &empty, &wal, err);
    if (r < 0 || empty)
        return r;
    sqlite3 *db = NULL;
    r = open_readonly(path, wal, &db, err);
    if (r < 0)
        return r;
    int64_t id = 0;
    int rc = query_int(db, "PRAGMA application_id", &id);
    if (rc != SQLITE_OK) {
        /* a damaged or encrypted file: not something to write to */
        r = (rc & 0xff) == SQLITE_NOTADB
                ? refuse(err, path, "not an SQLite database")
                : moat_err_set(err, sq_errno(rc), "cannot read %s: %s", path, sqlite3_errmsg(db));
    } else if (id == SQ_APPLICATION_ID) {
        int64_t v = 0;
        r = schema_version(db, &v, err);
        if (r == 0)
            r = check_version(path, v, err);
    } else if (id != 0) {
        char why[96];
        (void)snprintf(why, sizeof(why), "application_id %lld is another application's",
                       (long long)id);
        r = refuse(err, path, why);
    } else {
        r = identify_unmarked(db, path, err);
    }
    (void)sqlite3_close(db);
    return r;
}
