/*
 * What store_open takes for <data_dir>/moat.db and what it refuses. Refused:
 * another application's database (a users table; a jobs table of its own;
 * one in WAL mode, with or without content in its -wal; one with an
 * application_id of its own), a file that is not SQLite, a short one, a
 * directory, a store of a newer moat. Each refusal is -EMEDIUMTYPE (-EPROTO
 * for the newer store) naming the file, and the directory is exactly as it
 * was: the same files, bytes, modes and times, no -wal or -shm made. Taken:
 * no file, an empty file, an SQLite file with nothing in it, a moat store,
 * and a store made by moat before it marked its files
 * (data/main-323aa77.db, made by `moat serve` at that commit), which gets
 * the mark and keeps its jobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "store_fx.h"

#define MOAT_APPLICATION_ID 0x6d6f6174 /* "moat": a file format fact, pinned here */

struct fixture {
    char dir[64];
    char db[128];
    struct moat_config cfg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    moat_strlcpy(f->dir, "/tmp/moat-store-ident-XXXXXX", sizeof(f->dir));
    assert_non_null(mkdtemp(f->dir));
    config_defaults(&f->cfg);
    moat_strlcpy(f->cfg.data_dir, f->dir, sizeof(f->cfg.data_dir));
    (void)snprintf(f->db, sizeof(f->db), "%s/moat.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char sub[160];
    (void)snprintf(sub, sizeof(sub), "%s/moat.db", f->dir);
    (void)rmdir(sub); /* the case that made it a directory */
    rm_dir(f->dir);
    free(f);
    return 0;
}

/* ---- what a directory holds ---- */

#define SNAP_MAX 8

struct snapshot {
    size_t n;
    struct {
        char name[64];
        mode_t mode;
        off_t size;
        struct timespec mtime;
        char sha[MOAT_SHA256_HEX_LEN + 1];
    } e[SNAP_MAX];
};

static void snap_file(const char *dir, const char *name, struct snapshot *s)
{
    assert_true(s->n < SNAP_MAX);
    char p[256];
    (void)snprintf(p, sizeof(p), "%s/%s", dir, name);
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    size_t k = s->n++;
    moat_strlcpy(s->e[k].name, name, sizeof(s->e[k].name));
    s->e[k].mode = sb.st_mode;
    s->e[k].size = sb.st_size;
    s->e[k].mtime = sb.st_mtim;
    s->e[k].sha[0] = '\0';
    if (!S_ISREG(sb.st_mode))
        return;
    char *data = malloc((size_t)sb.st_size + 1);
    assert_non_null(data);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read_full(fd, data, (size_t)sb.st_size), 0);
    (void)close(fd);
    moat_sha256_hex(data, (size_t)sb.st_size, s->e[k].sha);
    free(data);
}

/* Every entry of dir, sorted by name. */
static void snapshot(const char *dir, struct snapshot *s)
{
    s->n = 0;
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0)
            snap_file(dir, list[i]->d_name, s);
        free(list[i]);
    }
    free(list);
}

static void assert_same(const struct snapshot *a, const struct snapshot *b)
{
    if (a->n != b->n)
        fail_msg("%zu entries before, %zu after (first after: %s)", a->n, b->n,
                 b->n ? b->e[0].name : "-");
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->e[i].name, b->e[i].name);
        assert_int_equal(a->e[i].mode, b->e[i].mode);
        assert_int_equal(a->e[i].size, b->e[i].size);
        assert_string_equal(a->e[i].sha, b->e[i].sha);
        assert_int_equal(a->e[i].mtime.tv_sec, b->e[i].mtime.tv_sec);
        assert_int_equal(a->e[i].mtime.tv_nsec, b->e[i].mtime.tv_nsec);
    }
}

/* ---- files to offer ---- */

/* Runs sql on path with a plain SQLite connection (as another application
 * would). wal: the file in WAL mode; keep_wal: closed without a checkpoint,
 * so that what sql wrote is only in the -wal. */
static void make_db(const char *path, const char *sql, bool wal, bool keep_wal)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    if (wal)
        assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
    if (keep_wal)
        assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL),
                         SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void put_bytes(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, data, len), 0);
    (void)close(fd);
}

/* store_open refuses the directory with code, naming the file, and
 * leaves it exactly as it was. */
static void assert_refused(struct fixture *f, int code)
{
    struct snapshot before, after;
    snapshot(f->dir, &before);
    struct moat_err err = {0};
    struct store *st = NULL;
    int r = store_open(&f->cfg, &st, &err);
    if (r != code)
        fail_msg("store_open: %d (%s), expected %d", r, err.msg, code);
    assert_null(st);
    if (!strstr(err.msg, f->db))
        fail_msg("the message does not name %s: %s", f->db, err.msg);
    snapshot(f->dir, &after);
    assert_same(&before, &after);
}

static int64_t query(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    (void)sqlite3_finalize(st);
    (void)sqlite3_close(db);
    return v;
}

/* store_open takes the directory: a working store, marked as moat's. */
static void assert_taken(struct fixture *f)
{
    struct moat_err err = {0};
    struct store *st = NULL;
    int r = store_open(&f->cfg, &st, &err);
    if (r != 0)
        fail_msg("store_open: %d (%s)", r, err.msg);
    struct job j;
    simple_job(&j, 1);
    assert_int_equal(store_insert(st, &j, NULL), 0);
    assert_true(store_ready(st));
    store_close(st);
    job_release(&j);
    assert_int_equal(query(f->db, "PRAGMA application_id"), MOAT_APPLICATION_ID);
    assert_int_equal(query(f->db, "SELECT max(version) FROM schema_version"), 4);
}

/* ---- refused ---- */

static void test_foreign_users_table(void **state)
{
    struct fixture *f = *state;
    make_db(f->db,
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
            "INSERT INTO users (name) VALUES ('ana'), ('bo');",
            false, false);
    assert_int_equal(chmod(f->db, 0604), 0);
    assert_refused(f, -EMEDIUMTYPE);
}

static void test_foreign_jobs_table(void **state)
{
    struct fixture *f = *state;
    /* its own jobs, and even a schema_version: not moat's schema */
    make_db(f->db,
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, state TEXT);"
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY);"
            "INSERT INTO schema_version VALUES (1);"
            "INSERT INTO jobs VALUES ('a', 'done');",
            false, false);
    assert_refused(f, -EMEDIUMTYPE);
}

static void test_foreign_wal_database(void **state)
{
    struct fixture *f = *state;
    make_db(f->db, "CREATE TABLE users (id INTEGER PRIMARY KEY);", true, false);
    assert_refused(f, -EMEDIUMTYPE); /* and no -wal, no -shm made */
}

/* Its tables exist only in its -wal: the file alone looks empty. */
static void test_foreign_content_only_in_wal(void **state)
{
    struct fixture *f = *state;
    make_db(f->db, "CREATE TABLE users (id INTEGER PRIMARY KEY);", true, true);
    char wal[160];
    (void)snprintf(wal, sizeof(wal), "%s-wal", f->db);
    struct stat sb;
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size > 0);
    assert_refused(f, -EMEDIUMTYPE);
}

/* The same without its -shm: it cannot be read without making one, so it
 * is not read at all. */
static void test_wal_content_without_shm(void **state)
{
    struct fixture *f = *state;
    make_db(f->db, "CREATE TABLE users (id INTEGER PRIMARY KEY);", true, true);
    char shm[160];
    (void)snprintf(shm, sizeof(shm), "%s-shm", f->db);
    (void)unlink(shm);
    assert_refused(f, -EIO);
}

static void test_foreign_application_id(void **state)
{
    struct fixture *f = *state;
    make_db(f->db, "PRAGMA application_id = 42;", false, false);
    assert_refused(f, -EMEDIUMTYPE);
}

static void test_not_sqlite(void **state)
{
    struct fixture *f = *state;
    static const char text[] = "name,score\nana,3\nbo,4\n"
                               "this is somebody's spreadsheet, long enough to have 100 bytes "
                               "of header................................\n";
    put_bytes(f->db, text, sizeof(text) - 1);
    assert_refused(f, -EMEDIUMTYPE);
    static const char magic_only[] = "SQLite format 3"; /* and its NUL: 16 bytes */
    put_bytes(f->db, magic_only, sizeof(magic_only));
    assert_refused(f, -EMEDIUMTYPE);
}

static void test_directory(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->db, 0700), 0);
    assert_refused(f, -EMEDIUMTYPE);
}

static void test_newer_moat_store(void **state)
{
    struct fixture *f = *state;
    assert_taken(f);
    make_db(f->db, "INSERT INTO schema_version (version, applied_ms) VALUES (99, 0)", false, false);
    assert_refused(f, -EPROTO);
}

/* ---- taken ---- */

static void test_no_file(void **state)
{
    assert_taken(*state);
}

static void test_empty_file(void **state)
{
    struct fixture *f = *state;
    put_bytes(f->db, "", 0);
    assert_taken(f);
}

static void test_empty_sqlite_file(void **state)
{
    struct fixture *f = *state;
    make_db(f->db, "CREATE TABLE t (x); DROP TABLE t;", false, false);
    assert_taken(f);
}

/* A copy of the store moat made at commit 323aa77, before it marked its
 * files: a queued python job and a cancelled bash job with stdin. */
static void copy_main_store(struct fixture *f)
{
    const char *data = getenv("MOAT_TEST_DATA");
    assert_non_null(data);
    char src[512];
    (void)snprintf(src, sizeof(src), "%s/data/main-323aa77.db", data);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    char *bytes = malloc((size_t)sb.st_size);
    assert_non_null(bytes);
    assert_int_equal(read_full(fd, bytes, (size_t)sb.st_size), 0);
    (void)close(fd);
    put_bytes(f->db, bytes, (size_t)sb.st_size);
    free(bytes);
    assert_int_equal(query(f->db, "PRAGMA application_id"), 0);
}

static void assert_main_jobs(struct fixture *f)
{
    struct moat_err err = {0};
    struct store *st = NULL;
    assert_int_equal(store_open(&f->cfg, &st, &err), 0);
    struct job j = {0};
    assert_int_equal(
        store_get(st, "01a25197-1e85-72d2-8044-a61618d6b72f", STORE_GET_CODE, &j, &err), 0);
    assert_int_equal(j.status, JOB_STATUS_QUEUED);
    assert_string_equal(j.language, "python");
    assert_int_equal(j.files[0].len, 12);
    assert_memory_equal(j.files[0].data, "print(2 + 2)", 12);
    job_release(&j);
    assert_int_equal(
        store_get(st, "01a25197-1ea7-7994-9d29-45193d7320a6", STORE_GET_CODE, &j, &err), 0);
    assert_int_equal(j.status, JOB_STATUS_CANCELLED);
    assert_int_equal(j.stdin_len, 1);
    job_release(&j);
    store_close(st);
}

static void test_store_of_main(void **state)
{
    struct fixture *f = *state;
    copy_main_store(f);
    assert_taken(f);
    assert_main_jobs(f);
}

/* The same after a crash: what it last wrote is only in its -wal. */
static void test_store_of_main_with_wal(void **state)
{
    struct fixture *f = *state;
    copy_main_store(f);
    make_db(f->db, "UPDATE jobs SET priority = 9 WHERE language = 'python'", true, true);
    assert_taken(f);
    assert_main_jobs(f);
    assert_int_equal(query(f->db, "SELECT priority FROM jobs WHERE language = 'python'"), 9);
}

/* A marked store opens again as it is, its jobs kept. */
static void test_moat_store_reopens(void **state)
{
    struct fixture *f = *state;
    assert_taken(f);
    assert_taken(f);
    assert_int_equal(query(f->db, "SELECT count(*) FROM jobs"), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_foreign_users_table),
        T(test_foreign_jobs_table),
        T(test_foreign_wal_database),
        T(test_foreign_content_only_in_wal),
        T(test_wal_content_without_shm),
        T(test_foreign_application_id),
        T(test_not_sqlite),
        T(test_directory),
        T(test_newer_moat_store),
        T(test_no_file),
        T(test_empty_file),
        T(test_empty_sqlite_file),
        T(test_store_of_main),
        T(test_store_of_main_with_wal),
        T(test_moat_store_reopens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
