/*
 * The PostgreSQL driver's database: what it must hold before moat writes to
 * it, and its schema.
 *
 * Everything of moat's is in one schema, `moat` (PG_SCHEMA), marked as
 * moat's by its comment (PG_MARK, as the SQLite store's application_id):
 *   - its names never meet another application's (a `jobs` table in
 *     `public` is someone else's business), and every statement names them
 *     qualified, so a search_path, ours or one planted, changes nothing;
 *   - what is moat's is exact: the schema and everything in it, so the
 *     store is identified by one mark, backed up with `pg_dump -n moat` and
 *     removed with `DROP SCHEMA moat CASCADE`;
 *   - an administrator can give moat a database without giving it the
 *     database: `CREATE SCHEMA moat AUTHORIZATION <moat's role>` is enough
 *     (since PostgreSQL 15 an ordinary role may not create tables in
 *     `public`), and an empty schema of that name is taken.
 *
 * Identification reads only, and comes first: a database that holds no
 * marked moat schema is taken only when nothing in it is another
 * application's (no table, view, sequence... outside the system schemas,
 * other than those of extensions), and when its `moat` schema, if any, is
 * empty. Anything else is refused with -EMEDIUMTYPE naming what was found,
 * and nothing is written: the URL most likely names the wrong database.
 * Once the marked schema is there, the database was given to moat, and what
 * else it holds is not moat's concern. A schema of a newer moat (a version
 * above what this one knows) is refused with -EPROTO.
 *
 * Identification and the migrations run in one transaction holding an
 * advisory lock, so that nodes starting together do it once, one after the
 * other, and a failure midway leaves the old version whole.
 */
#include "postgres-internal.h"
#include "moat/util.h"

#define PG_MARK "moat store"
/* pg_advisory_xact_lock(key1, key2): "moat", 1 */
#define PG_LOCK_KEYS "1836015988, 1"

#define PG_STEP_COLUMNS(p)                                                                         \
    p "verdict text, " p "exit_code integer NOT NULL DEFAULT 0, " p                                \
      "signal integer NOT NULL DEFAULT 0, " p "time_ms bigint NOT NULL DEFAULT 0, " p              \
      "wall_time_ms bigint NOT NULL DEFAULT 0, " p "memory_kb bigint NOT NULL DEFAULT 0, " p       \
      "stdout_truncated boolean NOT NULL DEFAULT false, " p                                        \
      "stderr_truncated boolean NOT NULL DEFAULT false, " p                                        \
      "cached boolean NOT NULL DEFAULT false, " p "message text NOT NULL DEFAULT ''"

/*
 * The migrations, in order: migration i takes the schema from version i to
 * i + 1. A published migration never changes; a new schema is a new entry.
 * Unsigned 64-bit values (limits) are kept bit for bit in bigint.
 */
/* clang-format off */
static const char *const migrations[] = {
    /* 1: jobs, blobs, write_log. write_token: the token of the batch that
     * last changed the row (postgres-write.c: how a write whose answer was
     * lost is checked). */
    "CREATE TABLE " PG_SCHEMA ".jobs ("
    " id uuid PRIMARY KEY,"
    " status text NOT NULL CHECK (status IN"
    "  ('queued', 'running', 'completed', 'failed', 'cancelled')),"
    " language text NOT NULL, language_given text NOT NULL, version text NOT NULL,"
    " priority integer NOT NULL,"
    " time_ms bigint NOT NULL, wall_time_ms bigint NOT NULL, memory_mb bigint NOT NULL,"
    " max_processes bigint NOT NULL, max_output_kb bigint NOT NULL,"
    " max_file_kb bigint NOT NULL, max_open_files bigint NOT NULL, stack_kb bigint NOT NULL,"
    " nfiles bigint NOT NULL, code_single boolean NOT NULL, stdin_len bigint NOT NULL,"
    " args_json text NOT NULL, metadata_json text, tags_json text,"
    " attempts bigint NOT NULL DEFAULT 0,"
    " created_ms bigint NOT NULL, started_ms bigint NOT NULL DEFAULT 0,"
    " finished_ms bigint NOT NULL DEFAULT 0,"
    " code_hash text NOT NULL, output_hash text NOT NULL DEFAULT '',"
    " compiled boolean NOT NULL DEFAULT false, "
    PG_STEP_COLUMNS("c_") ", "
    PG_STEP_COLUMNS("r_") ","
    " write_token bigint NOT NULL DEFAULT 0);"
    /* recovery lists the unfinished jobs, oldest first, without a scan */
    "CREATE INDEX jobs_pending ON " PG_SCHEMA ".jobs (created_ms, id)"
    " WHERE status IN ('queued', 'running');"
    "CREATE TABLE " PG_SCHEMA ".blobs (key text PRIMARY KEY, data bytea NOT NULL);"
    /* the token of the last batch each writer committed: how a writer
     * whose connection broke at COMMIT learns the outcome */
    "CREATE TABLE " PG_SCHEMA ".write_log (writer bigint PRIMARY KEY,"
    " token bigint NOT NULL, at_ms bigint NOT NULL);",
    /* 2: judging the run's output: how (NULL: not judged); the expected
     * output is the blob expected.bin */
    "ALTER TABLE " PG_SCHEMA ".jobs ADD COLUMN compare text CHECK (compare IN"
    " ('exact', 'trim', 'tokens', 'float')),"
    " ADD COLUMN abs_tol double precision NOT NULL DEFAULT 0,"
    " ADD COLUMN rel_tol double precision NOT NULL DEFAULT 0,"
    " ADD COLUMN expected_len bigint NOT NULL DEFAULT 0,"
    /* test cases: how many, whether a failure stops them; what each asks
     * is the blob tests.json, what each gave results.json */
    " ADD COLUMN ntests bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN stop_on_failure boolean NOT NULL DEFAULT false;",
    /* 3: the webhook of a job (callbackUrl) and its delivery: cb_url NULL =
     * none; cb_attempts counts the attempts claimed (the fencing token of
     * an attempt's outcome); cb_lease_ms: the claim of the node making an
     * attempt holds until then; cb_next_ms: a pending delivery is due then */
    "ALTER TABLE " PG_SCHEMA ".jobs ADD COLUMN cb_url text,"
    " ADD COLUMN cb_shape text CHECK (cb_shape IN ('native', 'judge0')),"
    " ADD COLUMN cb_status text CHECK (cb_status IN ('pending', 'delivered', 'failed')),"
    " ADD COLUMN cb_attempts bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN cb_error text NOT NULL DEFAULT '',"
    " ADD COLUMN cb_delivered_ms bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN cb_next_ms bigint NOT NULL DEFAULT 0,"
    " ADD COLUMN cb_lease_ms bigint NOT NULL DEFAULT 0;"
    /* the poller's question, without a scan: pending deliveries by due time */
    "CREATE INDEX jobs_callbacks ON " PG_SCHEMA ".jobs (cb_next_ms, id)"
    " WHERE cb_status = 'pending';",
    /* 4: API keys (only their SHA-256) with their limits (0: the server's),
     * and the answers of Idempotency-Key submissions, per key owner */
    "CREATE TABLE " PG_SCHEMA ".api_keys (id uuid PRIMARY KEY, name text NOT NULL,"
    " hash text NOT NULL UNIQUE, created_ms bigint NOT NULL,"
    " revoked_ms bigint NOT NULL DEFAULT 0,"
    " jobs_per_minute bigint NOT NULL, concurrent_jobs bigint NOT NULL,"
    " max_time_ms bigint NOT NULL, max_wall_time_ms bigint NOT NULL,"
    " max_memory_mb bigint NOT NULL, max_processes bigint NOT NULL,"
    " max_output_kb bigint NOT NULL, languages text NOT NULL);"
    "CREATE TABLE " PG_SCHEMA ".idempotency (owner text NOT NULL, key text NOT NULL,"
    " body_hash text NOT NULL, created_ms bigint NOT NULL,"
    " status integer NOT NULL DEFAULT 0, ctype text NOT NULL DEFAULT '',"
    " location text NOT NULL DEFAULT '', body bytea,"
    " PRIMARY KEY (owner, key));"
    "CREATE INDEX idempotency_age ON " PG_SCHEMA ".idempotency (created_ms);",
};
/* clang-format on */

#define PG_LATEST_VERSION ((int64_t)MOAT_ARRAY_SIZE(migrations))

/* What the database holds, read without writing. Other applications'
 * relations: outside the system schemas (pg_*, information_schema) and
 * moat's, not members of an extension (PostGIS puts a table in public). */
static const char identify_sql[] =
    "WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = '" PG_SCHEMA "'),"
    " other AS (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    "  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', '" PG_SCHEMA "')"
    "  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
    "   AND d.objid = c.oid AND d.deptype = 'e'))"
    " SELECT EXISTS (SELECT 1 FROM ns),"
    "  coalesce((SELECT obj_description(oid, 'pg_namespace') FROM ns), ''),"
    "  (SELECT count(*) FROM pg_class WHERE relnamespace IN (SELECT oid FROM ns)),"
    "  (SELECT count(*) FROM other),"
    "  (SELECT string_agg(name, ', ') FROM (SELECT name FROM other ORDER BY name LIMIT 6) f),"
    "  to_regclass('" PG_SCHEMA ".schema_version') IS NOT NULL";

/* Runs sql (one or more statements, no parameters) on c. */
static int exec_simple(struct pg_store *s, PGconn *c, const char *sql, uint64_t deadline,
                       struct moat_err *err)
{
    int e = PQsendQuery(c, sql) ? pg_flush(c, deadline) : -ENOTCONN;
    PGresult *bad = NULL;
    while (e == 0) {
        e = pg_await(c, deadline);
        PGresult *r = e == 0 ? PQgetResult(c) : NULL;
        if (!r)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !bad)
            bad = r;
        else
            PQclear(r);
    }
    if (e == 0 && !bad)
        return 0;
    char msg[200];
    if (e == -ETIMEDOUT)
        moat_strlcpy(msg, "the database did not answer in time", sizeof(msg));
    else
        pg_message(s, bad, c, msg, sizeof(msg));
    if (e == 0)
        e = pg_errno(bad);
    PQclear(bad);
    return moat_err_set(err, e == -ETIMEDOUT ? -ENOTCONN : e, "cannot migrate the store %s: %s",
                        s->shown, msg);
}

static int refuse(struct pg_store *s, struct moat_err *err, const char *why)
{
    return moat_err_set(err, -EMEDIUMTYPE, "%s is not a moat store (%s): left untouched", s->shown,
                        why);
}

/* Identifies the database (in the open transaction): 0 with *fresh when
 * moat's schema is to be made, or -errno. */
static int identify(struct pg_store *s, PGconn *c, uint64_t deadline, bool *fresh, int64_t *version,
                    struct moat_err *err)
{
    PGresult *r = NULL;
    char msg[200];
    int e =
        pg_query(s, c, identify_sql, false, 0, NULL, NULL, 0, true, deadline, &r, msg, sizeof(msg));
    if (e < 0)
        return moat_err_set(err, e, "cannot read what the store %s holds: %s", s->shown, msg);
    bool has_schema = pg_bool(r, 0, 0);
    char mark[64], names[200];
    pg_text(r, 0, 1, mark, sizeof(mark));
    int64_t in_schema = pg_int(r, 0, 2), others = pg_int(r, 0, 3);
    pg_text(r, 0, 4, names, sizeof(names));
    bool has_versions = pg_bool(r, 0, 5);
    PQclear(r);
    bool marked = has_schema && strcmp(mark, PG_MARK) == 0;
    char why[320];
    if (!marked && others > 0) {
        (void)snprintf(why, sizeof(why),
                       "the database holds %lld table(s) of another "
                       "application: %s%s",
                       (long long)others, names, others > 6 ? ", ..." : "");
        return refuse(s, err, why);
    }
    if (has_schema && !marked && in_schema > 0) {
        (void)snprintf(why, sizeof(why),
                       "its schema " PG_SCHEMA " holds %lld object(s) and "
                       "is not marked as moat's",
                       (long long)in_schema);
        return refuse(s, err, why);
    }
    if (marked && !has_versions)
        return refuse(s, err, "its schema " PG_SCHEMA " has no schema_version table");
    *fresh = !marked;
    *version = 0;
    if (!marked)
        return 0;
    e = pg_query(s, c, "SELECT coalesce(max(version), 0)::bigint FROM " PG_SCHEMA ".schema_version",
                 false, 0, NULL, NULL, 0, true, deadline, &r, msg, sizeof(msg));
    if (e < 0)
        return moat_err_set(err, e, "cannot read the schema version of %s: %s", s->shown, msg);
    *version = pg_int(r, 0, 0);
    PQclear(r);
    if (*version > PG_LATEST_VERSION || *version < 0)
        return moat_err_set(err, -EPROTO,
                            "the store %s has schema version %lld, this moat knows up to %lld",
                            s->shown, (long long)*version, (long long)PG_LATEST_VERSION);
    return 0;
}

static int migrate_locked(struct pg_store *s, PGconn *c, uint64_t deadline, struct moat_err *err)
{
    int e = exec_simple(s, c, "SELECT pg_advisory_xact_lock(" PG_LOCK_KEYS ")", deadline, err);
    bool fresh = false;
    int64_t v = 0;
    if (e == 0)
        e = identify(s, c, deadline, &fresh, &v, err);
    if (e == 0 && fresh)
        e = exec_simple(s, c,
                        "CREATE SCHEMA IF NOT EXISTS " PG_SCHEMA ";"
                        "COMMENT ON SCHEMA " PG_SCHEMA " IS '" PG_MARK "';"
                        "CREATE TABLE " PG_SCHEMA ".schema_version ("
                        " version integer PRIMARY KEY, applied_ms bigint NOT NULL)",
                        deadline, err);
    for (int64_t i = v; e == 0 && i < PG_LATEST_VERSION; i++) {
        e = exec_simple(s, c, migrations[i], deadline, err);
        char sql[160];
        (void)snprintf(sql, sizeof(sql),
                       "INSERT INTO " PG_SCHEMA ".schema_version (version, applied_ms)"
                       " VALUES (%lld, %llu)",
                       (long long)(i + 1), (unsigned long long)moat_realtime_ms());
        if (e == 0)
            e = exec_simple(s, c, sql, deadline, err);
    }
    return e;
}

int pg_migrate(struct pg_store *s, PGconn *c, struct moat_err *err)
{
    /* generous: another node may hold the lock while it migrates */
    uint64_t deadline = pg_deadline(s->to.io_ms * 6);
    int e = exec_simple(s, c, "BEGIN", deadline, err);
    if (e < 0)
        return e;
    e = migrate_locked(s, c, deadline, err);
    if (e == 0)
        return exec_simple(s, c, "COMMIT", deadline, err);
    struct moat_err ignored = {0};
    if (PQstatus(c) == CONNECTION_OK)
        (void)exec_simple(s, c, "ROLLBACK", pg_deadline(s->to.io_ms), &ignored);
    return e;
}
