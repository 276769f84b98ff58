/*
 * Durable submissions per second through store_insert_async, with a fixed
 * number of inserts in flight (as the API keeps them under load), for the
 * SQLite store and the PostgreSQL store in the same run:
 *
 *     python3 tests/servers/postgres.py --run -- build/store_bench [-n N] [-w WINDOW] [-d DIR]
 *
 * (the wrapper starts a throw-away PostgreSQL and sets MOAT_TEST_PG_URL;
 * the bench makes a database of its own there and drops it afterwards).
 * Without MOAT_TEST_PG_URL only the SQLite store is measured. DIR is where
 * the SQLite store's directory is made (default /var/tmp: a disk, so that
 * its fsyncs are real). Prints each rate, the commits each took, the
 * process's CPU time per insert (the store's writer, mostly: the caller
 * only waits), and PostgreSQL's rate over SQLite's. Not run by ctest: a
 * measure, not a test.
 */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "moat/config.h"
#include "moat/job.h"
#include "moat/store.h"
#include "moat/util.h"
#include "store-internal.h"

struct window {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t done, failed;
    int first_error;
};

static void on_done(void *cls, int result)
{
    struct window *w = cls;
    pthread_mutex_lock(&w->mu);
    w->done++;
    if (result < 0 && w->failed++ == 0)
        w->first_error = result;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static int make_jobs(struct job *jobs, size_t n)
{
    static const char code[] = "print(sum(map(int, input().split())))\n";
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        *j = (struct job){.status = JOB_STATUS_QUEUED, .priority = JOB_PRIORITY_DEFAULT};
        moat_uuid7(j->id);
        moat_strlcpy(j->language, "python", sizeof(j->language));
        moat_strlcpy(j->language_given, "python", sizeof(j->language_given));
        moat_strlcpy(j->version, "3.11.2", sizeof(j->version));
        j->limits = (struct moat_limits){.time_ms = 1000,
                                         .wall_time_ms = 3000,
                                         .memory_mb = 256,
                                         .max_processes = 1,
                                         .max_output_kb = 64,
                                         .max_file_kb = 1024,
                                         .max_open_files = 64,
                                         .stack_kb = 8192};
        j->files = calloc(1, sizeof(*j->files));
        j->stdin_data = strdup("1 2\n");
        if (!j->files || !j->stdin_data)
            return -ENOMEM;
        j->nfiles = 1;
        j->files[0].data = strdup(code);
        if (!j->files[0].data)
            return -ENOMEM;
        j->files[0].len = sizeof(code) - 1;
        j->stdin_len = 4;
        moat_sha256_hex(code, sizeof(code) - 1, j->code_hash);
        j->created_ms = (int64_t)moat_realtime_ms();
    }
    return 0;
}

/* Inserts jobs[0..n) with at most window in flight: the rate, or < 0. */
static double run(struct store *st, struct job *jobs, size_t n, size_t window)
{
    struct window w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    uint64_t t0 = moat_now_ns();
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&w.mu);
        while (i - w.done >= window)
            pthread_cond_wait(&w.cond, &w.mu);
        pthread_mutex_unlock(&w.mu);
        int e = store_insert_async(st, &jobs[i], on_done, &w);
        if (e < 0) {
            fprintf(stderr, "insert: %s\n", strerror(-e));
            return -1;
        }
    }
    pthread_mutex_lock(&w.mu);
    while (w.done < n)
        pthread_cond_wait(&w.cond, &w.mu);
    pthread_mutex_unlock(&w.mu);
    double secs = (double)(moat_now_ns() - t0) / 1e9;
    if (w.failed) {
        fprintf(stderr, "%zu inserts failed, the first with %s\n", w.failed,
                strerror(-w.first_error));
        return -1;
    }
    return (double)n / secs;
}

/* CPU time of this process so far (user and system), in microseconds. */
static double cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Opens cfg's store, inserts warm-up then n jobs, prints the rate. */
static double measure(const char *name, const struct moat_config *cfg, size_t n, size_t window)
{
    struct moat_err err = {0};
    struct store *st = NULL;
    if (store_open(cfg, &st, &err) < 0) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return -1;
    }
    size_t warm = n / 10;
    struct job *jobs = calloc(warm + n, sizeof(*jobs));
    double rate = -1;
    if (jobs && make_jobs(jobs, warm + n) == 0 && run(st, jobs, warm, window) > 0) {
        struct store_stats before, after;
        store_stats(st, &before);
        double cpu0 = cpu_us();
        rate = run(st, jobs + warm, n, window);
        double cpu = cpu_us() - cpu0;
        store_stats(st, &after);
        if (rate > 0)
            printf("%-10s %7zu durable inserts, %zu in flight: %8.0f /s (%llu commits, %.1f "
                   "inserts per commit, %.1f us CPU per insert)\n",
                   name, n, window, rate, (unsigned long long)(after.commits - before.commits),
                   (double)n / (double)(after.commits - before.commits), cpu / (double)n);
    }
    store_close(st);
    for (size_t i = 0; jobs && i < warm + n; i++)
        job_release(&jobs[i]);
    free(jobs);
    return rate;
}

static int admin(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    size_t n = 20000, window = 64;
    const char *base = "/var/tmp";
    int opt;
    while ((opt = getopt(argc, argv, "n:w:d:")) != -1) {
        if (opt == 'n')
            n = strtoul(optarg, NULL, 10);
        else if (opt == 'w')
            window = strtoul(optarg, NULL, 10);
        else if (opt == 'd')
            base = optarg;
        else
            return 2;
    }
    const char *url = getenv("MOAT_TEST_PG_URL");
    if (n == 0 || window == 0) {
        fprintf(stderr,
                "usage: [python3 tests/servers/postgres.py --run --] %s [-n N] [-w W] [-d DIR]\n",
                argv[0]);
        return 2;
    }
    struct moat_config cfg;
    config_defaults(&cfg);
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s/moat-store-bench-XXXXXX", base) >= (int)sizeof(dir) ||
        !mkdtemp(dir))
        return 1;
    moat_strlcpy(cfg.data_dir, dir, sizeof(cfg.data_dir));
    moat_strlcpy(cfg.store, "sqlite", sizeof(cfg.store));
    double sq = measure("sqlite", &cfg, n, window);
    char path[4200];
    static const char *const side[] = {"moat.db", "moat.db-wal", "moat.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, side[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
    if (!url)
        return sq > 0 ? 0 : 1;

    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        return 1;
    char db[64], sql[128];
    (void)snprintf(db, sizeof(db), "moat_bench_%08x", rnd);
    (void)snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    if (admin(url, sql) < 0)
        return 1;
    const char *slash = strrchr(url, '/');
    (void)snprintf(cfg.store, sizeof(cfg.store), "%.*s/%s", (int)(slash - url), url, db);
    double pg = measure("postgres", &cfg, n, window);
    (void)snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
    (void)admin(url, sql);
    if (sq <= 0 || pg <= 0)
        return 1;
    printf("postgres / sqlite = %.2f\n", pg / sq);
    return 0;
}
