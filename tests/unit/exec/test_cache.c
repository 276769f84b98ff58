/*
 * The compile cache. Without a box: keys (every input counts, parts cannot
 * be shifted into each other), store and load, LRU eviction under a tiny
 * bound, a reopened cache finding its entries, damaged and tampered entries
 * refused as misses, concurrent use. With real boxes (a second group, run
 * as root; without root the binary runs the first group and then reports
 * itself skipped, exit 77): a C program compiled once and then served from
 * the cache, a
 * generated program whose output shows the compile step did not run again,
 * different sources and file names missing, compile errors never cached, a
 * tampered manifest on disk treated as a miss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <glob.h>
#include <pthread.h>

#include "cache-internal.h"
#include "moat/config.h"
#include "moat/exec.h"
#include "moat/lang.h"
#include "moat/sandbox.h"
#include "moat/util.h"
#include "sandbox/sbx_test.h"

#define MiB (1ull << 20)

/* "gen" compiles by running its source, which writes the program: a
 * random number baked in at compile time shows whether a run's program
 * came from this compile or from the cache. */
static const char langs_ini[] = "[c]\n"
                                "source = main.c\n"
                                "compile = /usr/bin/gcc -O0 -o main {files}\n"
                                "run = ./main\n"
                                "version = /usr/bin/gcc -dumpfullversion\n"
                                "\n"
                                "[gen]\n"
                                "source = gen.sh\n"
                                "compile = /usr/bin/sh {main}\n"
                                "run = ./out/prog\n"
                                "version = /usr/bin/gcc -dumpfullversion\n"
                                "\n"
                                "[noversion]\n"
                                "source = gen.sh\n"
                                "compile = /usr/bin/sh {main}\n"
                                "run = ./out/prog\n";

static const char gen_sh[] =
    "mkdir -p out\n"
    "n=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')\n"
    "printf '#!/bin/sh\\necho compiled %s\\ncat data* 2>/dev/null\\nexit 0\\n' $n "
    "> out/prog\n"
    "chmod 755 out/prog\n"
    "echo notes > notes.txt\n";

struct fx {
    struct sbx_test_fx x; /* the box group's context; unused by the other group */
    struct lang_registry *langs;
    struct moat_config cfg;
    char base[128];
    unsigned ndirs;
    /* of the running test, released by its teardown */
    struct exec_cache *cache;
};

/* A data directory of its own for each test, and a cache on it. */
static struct exec_cache *open_cache(struct fx *f, uint64_t mb)
{
    (void)snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "%s/data-%u", f->base, ++f->ndirs);
    f->cfg.compile_cache_mb = mb;
    struct moat_err err = {0};
    int r = exec_cache_open(&f->cfg, &f->cache, &err);
    if (r < 0)
        fail_msg("exec_cache_open: %s (%d)", err.msg, r);
    return f->cache;
}

static struct exec_cache *reopen_cache(struct fx *f)
{
    exec_cache_free(f->cache);
    f->cache = NULL;
    struct moat_err err = {0};
    int r = exec_cache_open(&f->cfg, &f->cache, &err);
    if (r < 0)
        fail_msg("exec_cache_open: %s (%d)", err.msg, r);
    return f->cache;
}

static struct exec_cache_stats stats(struct exec_cache *c)
{
    struct exec_cache_stats st;
    exec_cache_stats(c, &st);
    return st;
}

/* ---- keys ---- */

static const char *const argv_c[] = {"/usr/bin/gcc", "-o", "main", "main.c", NULL};
static const char *const envp_c[] = {"PATH=/usr/bin", NULL};

static void key_of(const struct exec_cache_input *in, char key[EXEC_CACHE_KEY_LEN + 1])
{
    assert_int_equal(exec_cache_key(in, key), 0);
    assert_int_equal(strlen(key), EXEC_CACHE_KEY_LEN);
}

static void test_key(void **state)
{
    (void)state;
    struct sbx_file files[] = {{.name = "main.c", .data = "int x;", .len = 6},
                               {.name = "a.h", .data = "", .len = 0}};
    struct exec_cache_input base = {.lang = "c",
                                    .version = "12.2.0",
                                    .argv = argv_c,
                                    .envp = envp_c,
                                    .files = files,
                                    .nfiles = 2};
    char k0[EXEC_CACHE_KEY_LEN + 1], k[EXEC_CACHE_KEY_LEN + 1];
    key_of(&base, k0);
    key_of(&base, k);
    assert_string_equal(k, k0); /* a function of its input */

    struct exec_cache_input in = base;
    in.lang = "cpp";
    key_of(&in, k);
    assert_string_not_equal(k, k0);
    in = base;
    in.version = "12.2.1";
    key_of(&in, k);
    assert_string_not_equal(k, k0);
    static const char *const argv_o2[] = {"/usr/bin/gcc", "-O2", "-o", "main", "main.c", NULL};
    in = base;
    in.argv = argv_o2;
    key_of(&in, k);
    assert_string_not_equal(k, k0);
    static const char *const envp2[] = {"PATH=/usr/bin", "X=1", NULL};
    in = base;
    in.envp = envp2;
    key_of(&in, k);
    assert_string_not_equal(k, k0);

    /* the same bytes under another name is another program */
    struct sbx_file renamed[] = {files[0], {.name = "b.h", .data = "", .len = 0}};
    in = base;
    in.files = renamed;
    key_of(&in, k);
    assert_string_not_equal(k, k0);
    /* content, and the order of the files */
    struct sbx_file changed[] = {{.name = "main.c", .data = "int y;", .len = 6}, files[1]};
    in.files = changed;
    key_of(&in, k);
    assert_string_not_equal(k, k0);
    struct sbx_file swapped[] = {files[1], files[0]};
    in.files = swapped;
    key_of(&in, k);
    assert_string_not_equal(k, k0);
    in = base;
    in.nfiles = 1;
    key_of(&in, k);
    assert_string_not_equal(k, k0);

    /* length prefixes: moving a byte from one part to the next changes it */
    static const char *const split1[] = {"ab", "c", NULL};
    static const char *const split2[] = {"a", "bc", NULL};
    char ka[EXEC_CACHE_KEY_LEN + 1], kb[EXEC_CACHE_KEY_LEN + 1];
    in = base;
    in.argv = split1;
    key_of(&in, ka);
    in.argv = split2;
    key_of(&in, kb);
    assert_string_not_equal(ka, kb);
    struct sbx_file nf1[] = {{.name = "ab", .data = "c", .len = 1}};
    struct sbx_file nf2[] = {{.name = "a", .data = "bc", .len = 2}};
    in = base;
    in.files = nf1;
    in.nfiles = 1;
    key_of(&in, ka);
    in.files = nf2;
    key_of(&in, kb);
    assert_string_not_equal(ka, kb);
    /* an argument moved into the environment */
    static const char *const argv_short[] = {"/usr/bin/gcc", NULL};
    static const char *const envp_long[] = {"-o", NULL};
    static const char *const argv_long[] = {"/usr/bin/gcc", "-o", NULL};
    static const char *const envp_none[] = {NULL};
    in = base;
    in.argv = argv_short;
    in.envp = envp_long;
    key_of(&in, ka);
    in.argv = argv_long;
    in.envp = envp_none;
    key_of(&in, kb);
    assert_string_not_equal(ka, kb);
}

/* ---- store and load ---- */

static const char key_a[] = "aa00000000000000000000000000000000000000000000000000000000000001";
static const char key_b[] = "bb00000000000000000000000000000000000000000000000000000000000002";
static const char key_c[] = "cc00000000000000000000000000000000000000000000000000000000000003";

static void put(struct exec_cache *c, const char *key, size_t size)
{
    char *data = malloc(size ? size : 1);
    assert_non_null(data);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 7 + (unsigned char)key[0]);
    struct sbx_collected files[] = {
        {.name = (char *)"main", .data = data, .len = size, .executable = true},
        {.name = (char *)"lib/x.o", .data = (char *)"obj", .len = 3}};
    assert_int_equal(exec_cache_put(c, key, files, 2), 0);
    free(data);
}

static bool has(struct exec_cache *c, const char *key)
{
    struct exec_cache_hit h;
    int r = exec_cache_get(c, key, &h);
    exec_cache_hit_release(&h);
    return r == 1;
}

static void entry_file(struct fx *f, const char *key, const char *file, char *out, size_t size)
{
    (void)snprintf(out, size, "%s/compile-cache/%.2s/%s/%s", f->cfg.data_dir, key, key, file);
}

static void test_put_get(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 16);
    assert_false(has(c, key_a));
    put(c, key_a, 1000);
    struct exec_cache_hit h;
    assert_int_equal(exec_cache_get(c, key_a, &h), 1);
    assert_int_equal(h.nfiles, 2);
    assert_string_equal(h.files[0].name, "main");
    assert_true(h.files[0].executable);
    assert_int_equal(h.files[0].len, 1000);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(((const char *)h.files[0].data)[i], (char)(i * 7 + 'a'));
    assert_string_equal(h.files[1].name, "lib/x.o");
    assert_false(h.files[1].executable);
    assert_int_equal(h.files[1].len, 3);
    assert_memory_equal(h.files[1].data, "obj", 3);
    exec_cache_hit_release(&h);
    assert_null(h.files);
    /* a second put of a key is a no-op */
    put(c, key_a, 10);
    assert_int_equal(exec_cache_get(c, key_a, &h), 1);
    assert_int_equal(h.files[0].len, 1000);
    exec_cache_hit_release(&h);
    struct exec_cache_stats st = stats(c);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.entries, 1);
    assert_true(st.bytes >= 1003);
    /* not a key at all */
    assert_false(has(c, "../../etc/passwd"));
    assert_int_equal(exec_cache_put(c, "zz", NULL, 0), -EINVAL);
    /* an entry of no files is an entry */
    assert_int_equal(exec_cache_put(c, key_b, NULL, 0), 0);
    assert_int_equal(exec_cache_get(c, key_b, &h), 1);
    assert_int_equal(h.nfiles, 0);
    exec_cache_hit_release(&h);
    /* names the box would refuse are never stored */
    struct sbx_collected bad[] = {{.name = (char *)"../x", .data = (char *)"", .len = 0}};
    assert_int_equal(exec_cache_put(c, key_c, bad, 1), -EINVAL);
    assert_false(has(c, key_c));
}

static void test_entry_bound(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 1);
    assert_true(exec_cache_entry_max(c) == 1 * MiB);
    put(c, key_a, 1 * MiB); /* + 3 bytes of lib/x.o: too large, not stored */
    assert_false(has(c, key_a));
    assert_int_equal(stats(c).entries, 0);
    exec_cache_free(f->cache);
    f->cache = NULL;
    c = open_cache(f, 1024);
    assert_true(exec_cache_entry_max(c) == EXEC_CACHE_ENTRY_MAX);
}

static void test_lru_eviction(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 1); /* 1 MiB: two 400 KiB entries fit, three do not */
    put(c, key_a, 400 << 10);
    put(c, key_b, 400 << 10);
    assert_int_equal(stats(c).entries, 2);
    assert_true(has(c, key_a)); /* a is now more recent than b */
    put(c, key_c, 400 << 10);
    struct exec_cache_stats st = stats(c);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.evictions, 1);
    assert_true(st.bytes <= 1 * MiB);
    assert_false(has(c, key_b));
    assert_true(has(c, key_a));
    assert_true(has(c, key_c));
    /* evicted from disk too */
    char path[PATH_MAX];
    entry_file(f, key_b, "manifest", path, sizeof path);
    assert_int_equal(access(path, F_OK), -1);
    entry_file(f, key_a, "manifest", path, sizeof path);
    assert_int_equal(access(path, F_OK), 0);
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* Waits (bounded) until the filesystem stamps a file later than key's
 * manifest: the order across a reopen comes from the manifests' mtimes,
 * and two stamped within one tick of the kernel's coarse file clock tie.
 * The probe is stamped as the cache stamps a manifest it uses. */
static void wait_file_clock_past(struct fx *f, const char *key)
{
    char manifest[PATH_MAX], probe[PATH_MAX];
    entry_file(f, key, "manifest", manifest, sizeof manifest);
    (void)snprintf(probe, sizeof probe, "%s/clock-probe", f->base);
    sbx_test_put(f->base, "clock-probe", "");
    struct stat m, p;
    assert_int_equal(stat(manifest, &m), 0);
    uint64_t dl = moat_test_deadline_ms(5000);
    do {
        assert_int_equal(utimensat(AT_FDCWD, probe, NULL, 0), 0);
        assert_int_equal(stat(probe, &p), 0);
    } while (!ts_after(&p.st_mtim, &m.st_mtim) && moat_test_before(dl));
    if (!ts_after(&p.st_mtim, &m.st_mtim))
        fail_msg("the file clock did not pass %s's mtime in 5 s", manifest);
}

static void test_reopen(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 1);
    put(c, key_a, 400 << 10);
    wait_file_clock_past(f, key_a);
    put(c, key_b, 400 << 10);
    wait_file_clock_past(f, key_b);
    assert_true(has(c, key_a)); /* a is the most recent */
    c = reopen_cache(f);
    struct exec_cache_stats st = stats(c);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.hits, 0);
    assert_true(st.bytes > 800 << 10);
    /* the LRU order survived: b goes first */
    put(c, key_c, 400 << 10);
    assert_false(has(c, key_b));
    assert_true(has(c, key_a));
    assert_true(has(c, key_c));
    /* a smaller bound at open evicts right away */
    f->cfg.compile_cache_mb = 1;
    c = reopen_cache(f);
    assert_int_equal(stats(c).entries, 2);
    /* leftovers of a crash in tmp/ are swept */
    char tmp[512];
    (void)snprintf(tmp, sizeof tmp, "%s/compile-cache/tmp/new-half", f->cfg.data_dir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    sbx_test_put(tmp, "0", "half");
    c = reopen_cache(f);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(stats(c).entries, 2);
}

/* Rewrites one line of an entry's manifest. */
static void rewrite_manifest(const char *path, const char *from, const char *to)
{
    char text[4096];
    assert_true(read_small_file_at(AT_FDCWD, path, text, sizeof text) > 0);
    char *p = strstr(text, from);
    assert_non_null(p);
    char out[4096];
    (void)snprintf(out, sizeof out, "%.*s%s%s", (int)(p - text), text, to, p + strlen(from));
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write_full(fd, out, strlen(out)), 0);
    (void)close(fd);
}

static void test_tampered(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 16);
    char path[PATH_MAX];
    static const char *const bad_names[] = {" ../escape", " /etc/passwd", " a b", " a*b.class"};
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(bad_names); i++) {
        put(c, key_a, 100);
        entry_file(f, key_a, "manifest", path, sizeof path);
        rewrite_manifest(path, " lib/x.o", bad_names[i]);
        uint64_t misses = stats(c).misses;
        assert_false(has(c, key_a));
        assert_int_equal(stats(c).misses, misses + 1);
        assert_int_equal(access(path, F_OK), -1); /* dropped from disk */
        assert_int_equal(stats(c).entries, 0);
    }
    /* an artifact changed behind the cache's back, or cut short by a crash */
    put(c, key_a, 100);
    char dir[512];
    (void)snprintf(dir, sizeof dir, "%s/compile-cache/aa/%s", f->cfg.data_dir, key_a);
    sbx_test_put(dir, "1", "jbo");
    assert_false(has(c, key_a));
    put(c, key_a, 100);
    sbx_test_put(dir, "1", "ob");
    assert_false(has(c, key_a));
    /* an artifact replaced by a link to a file with the right bytes */
    put(c, key_a, 100);
    sbx_test_put(f->base, "decoy", "obj");
    (void)snprintf(path, sizeof path, "%s/1", dir);
    assert_int_equal(unlink(path), 0);
    char decoy[512];
    (void)snprintf(decoy, sizeof decoy, "%s/decoy", f->base);
    assert_int_equal(symlink(decoy, path), 0);
    assert_false(has(c, key_a));
    /* a manifest that lies about a size */
    put(c, key_a, 100);
    entry_file(f, key_a, "manifest", path, sizeof path);
    rewrite_manifest(path, " 3 lib/x.o", " 4 lib/x.o");
    assert_false(has(c, key_a));
    /* at open, bad manifests are swept and good entries kept */
    put(c, key_a, 100);
    put(c, key_b, 100);
    entry_file(f, key_b, "manifest", path, sizeof path);
    rewrite_manifest(path, "lib/x.o", "lib/../x.o");
    c = reopen_cache(f);
    assert_int_equal(stats(c).entries, 1);
    assert_true(has(c, key_a));
    assert_false(has(c, key_b));
    assert_int_equal(access(path, F_OK), -1);
}

struct worker {
    struct exec_cache *c;
    unsigned id;
    int bad;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    const char *keys[] = {key_a, key_b, key_c};
    for (unsigned i = 0; i < 60; i++) {
        const char *key = keys[(i + w->id) % 3];
        struct exec_cache_hit h;
        int r = exec_cache_get(w->c, key, &h);
        if (r == 1 && (h.nfiles != 2 || h.files[0].len != 300 << 10))
            w->bad++;
        exec_cache_hit_release(&h);
        if (r == 0) {
            char *data = calloc(1, 300 << 10);
            struct sbx_collected files[] = {
                {.name = (char *)"main", .data = data, .len = 300 << 10},
                {.name = (char *)"x", .data = (char *)"", .len = 0}};
            if (!data || exec_cache_put(w->c, key, files, 2) < 0)
                w->bad++;
            free(data);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 1); /* three keys, room for three: evictions */
    struct worker w[4];
    pthread_t t[4];
    for (unsigned i = 0; i < 4; i++) {
        w[i] = (struct worker){.c = c, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(w[i].bad, 0);
    }
    struct exec_cache_stats st = stats(c);
    assert_true(st.entries <= 3);
    assert_true(st.bytes <= 1 * MiB);
    assert_int_equal(st.hits + st.misses, 4 * 60);
    /* what is on disk is what the index says */
    c = reopen_cache(f);
    assert_int_equal(stats(c).entries, st.entries);
}

/* ---- with real boxes ---- */

struct prog {
    const char *lang;
    struct exec_file files[3];
    size_t nfiles;
};

/* Runs p in a new box through the cache; the outcome's caller releases. */
static void run_prog(struct fx *f, const struct prog *p, struct exec_outcome *o)
{
    struct sbx_box *box = NULL;
    struct moat_err err = {0};
    int r = sbx_box_new(f->x.ctx, &box, &err);
    if (r < 0)
        fail_msg("sbx_box_new: %s (%d)", err.msg, r);
    struct exec_request req = {.lang = lang_find(f->langs, p->lang),
                               .files = p->files,
                               .nfiles = p->nfiles,
                               .limits = f->cfg.limits};
    assert_non_null(req.lang);
    r = exec_program_cached(box, &f->cfg, f->cache, &req, o, &err);
    sbx_box_free(box);
    if (r < 0)
        fail_msg("exec_program_cached: %s (%d)", err.msg, r);
    assert_true(o->compiled);
}

static void expect_run(const struct exec_outcome *o, const char *prefix)
{
    if (o->run.verdict != JOB_VERDICT_OK)
        fail_msg("run verdict %s: %s / %.*s", job_verdict_name(o->run.verdict), o->run.message,
                 (int)o->compile.err_len, o->compile.err ? o->compile.err : "");
    size_t n = strlen(prefix);
    if (o->run.out_len < n || memcmp(o->run.out, prefix, n) != 0)
        fail_msg("stdout \"%.*s\", expected \"%s...\"", (int)o->run.out_len, o->run.out, prefix);
}

static void expect_cached(const struct exec_outcome *o)
{
    assert_int_equal(o->compile.verdict, JOB_VERDICT_OK);
    assert_true(o->compile.cached);
    assert_true(o->compile.time_ms == 0 && o->compile.wall_time_ms == 0);
    assert_true(o->compile.memory_kb == 0);
    assert_int_equal(o->compile.out_len, 0);
    assert_int_equal(o->compile.err_len, 0);
}

static const char hello_c[] = "#include <stdio.h>\n"
                              "int main(void) { printf(\"hello %d\\n\", 6 * 7); return 0; }\n";

static void test_c_compiled_once(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 64);
    struct prog p = {
        .lang = "c", .files = {{.data = hello_c, .len = sizeof hello_c - 1}}, .nfiles = 1};
    struct exec_outcome o1, o2;
    run_prog(f, &p, &o1);
    expect_run(&o1, "hello 42\n");
    assert_int_equal(o1.compile.verdict, JOB_VERDICT_OK);
    assert_false(o1.compile.cached);
    assert_true(o1.compile.wall_time_ms > 0); /* gcc ran */
    struct exec_cache_stats st = stats(c);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.entries, 1);
    assert_true(st.bytes > 1000); /* an ELF binary */

    run_prog(f, &p, &o2);
    expect_cached(&o2);
    expect_run(&o2, "hello 42\n");
    assert_int_equal(o2.run.out_len, o1.run.out_len);
    st = stats(c);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    exec_outcome_release(&o1);
    exec_outcome_release(&o2);

    /* another source is another entry */
    static const char other_c[] = "#include <stdio.h>\n"
                                  "int main(void) { puts(\"other\"); return 0; }\n";
    p.files[0] = (struct exec_file){.data = other_c, .len = sizeof other_c - 1};
    run_prog(f, &p, &o1);
    expect_run(&o1, "other\n");
    assert_false(o1.compile.cached);
    assert_int_equal(stats(c).misses, 2);
    assert_int_equal(stats(c).entries, 2);
    exec_outcome_release(&o1);

    /* without a cache nothing is looked up or kept */
    struct sbx_box *box = NULL;
    struct moat_err err = {0};
    assert_int_equal(sbx_box_new(f->x.ctx, &box, &err), 0);
    struct exec_request req = {
        .lang = lang_find(f->langs, "c"), .files = p.files, .nfiles = 1, .limits = f->cfg.limits};
    assert_int_equal(exec_program(box, &f->cfg, &req, &o1, &err), 0);
    sbx_box_free(box);
    expect_run(&o1, "other\n");
    assert_false(o1.compile.cached);
    assert_int_equal(stats(c).hits + stats(c).misses, 3);
    exec_outcome_release(&o1);
}

/* The number the compile step baked into the program. */
static void compiled_number(const struct exec_outcome *o, char *out, size_t size)
{
    expect_run(o, "compiled ");
    size_t n = strcspn(o->run.out + 9, "\n");
    assert_true(n > 0 && n < size);
    memcpy(out, o->run.out + 9, n);
    out[n] = '\0';
}

static void test_second_run_does_not_compile(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 64);
    struct prog p = {.lang = "gen",
                     .files = {{.data = gen_sh, .len = sizeof gen_sh - 1},
                               {.name = "data1", .data = "one\n", .len = 4}},
                     .nfiles = 2};
    struct exec_outcome o;
    char n1[32], n2[32], n3[32];
    run_prog(f, &p, &o);
    assert_false(o.compile.cached);
    compiled_number(&o, n1, sizeof n1);
    exec_outcome_release(&o);
    /* the cached program: same number, its executable bit kept (it runs as
     * ./out/prog), in a subdirectory, beside the sources (it cats data1) */
    run_prog(f, &p, &o);
    expect_cached(&o);
    compiled_number(&o, n2, sizeof n2);
    assert_string_equal(n1, n2);
    assert_non_null(strstr(o.run.out, "\none\n"));
    exec_outcome_release(&o);
    assert_int_equal(stats(c).hits, 1);
    assert_int_equal(stats(c).entries, 1);

    /* the same bytes under another file name: compiled again */
    p.files[1].name = "data2";
    run_prog(f, &p, &o);
    assert_false(o.compile.cached);
    compiled_number(&o, n3, sizeof n3);
    assert_string_not_equal(n3, n1);
    exec_outcome_release(&o);
    assert_int_equal(stats(c).entries, 2);

    /* a language whose version cannot be told is never cached */
    p.lang = "noversion";
    run_prog(f, &p, &o);
    assert_false(o.compile.cached);
    exec_outcome_release(&o);
    run_prog(f, &p, &o);
    assert_false(o.compile.cached);
    exec_outcome_release(&o);
    assert_int_equal(stats(c).entries, 2);
}

static void test_compile_error_not_cached(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 64);
    static const char bad_c[] = "int main(void) { return missing; }\n";
    struct prog p = {.lang = "c", .files = {{.data = bad_c, .len = sizeof bad_c - 1}}, .nfiles = 1};
    for (int i = 0; i < 2; i++) {
        struct exec_outcome o;
        run_prog(f, &p, &o);
        assert_int_equal(o.run.verdict, JOB_VERDICT_COMPILE_ERROR);
        assert_int_equal(o.compile.verdict, JOB_VERDICT_RUNTIME_ERROR);
        assert_false(o.compile.cached);
        assert_non_null(o.compile.err); /* gcc's message, from a compile that ran */
        exec_outcome_release(&o);
    }
    struct exec_cache_stats st = stats(c);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.hits, 0);
    assert_int_equal(st.misses, 2);
}

static void test_tampered_entry_is_a_miss(void **state)
{
    struct fx *f = *state;
    struct exec_cache *c = open_cache(f, 64);
    struct prog p = {
        .lang = "gen", .files = {{.data = gen_sh, .len = sizeof gen_sh - 1}}, .nfiles = 1};
    struct exec_outcome o;
    char n1[32], n2[32];
    run_prog(f, &p, &o);
    compiled_number(&o, n1, sizeof n1);
    exec_outcome_release(&o);
    char pattern[PATH_MAX];
    (void)snprintf(pattern, sizeof pattern, "%s/compile-cache/[0-9a-f][0-9a-f]/*/manifest",
                   f->cfg.data_dir);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1);
    /* the box would write this name outside /box if it were used */
    rewrite_manifest(g.gl_pathv[0], " notes.txt", " ../../notes.txt");
    run_prog(f, &p, &o);
    assert_false(o.compile.cached);
    compiled_number(&o, n2, sizeof n2);
    assert_string_not_equal(n1, n2); /* compiled again */
    exec_outcome_release(&o);
    /* and stored again, whole */
    run_prog(f, &p, &o);
    expect_cached(&o);
    compiled_number(&o, n1, sizeof n1);
    assert_string_equal(n1, n2);
    exec_outcome_release(&o);
    /* an artifact that would collide with a source: a miss as well */
    rewrite_manifest(g.gl_pathv[0], " notes.txt", " gen.sh");
    uint64_t hits = stats(c).hits;
    run_prog(f, &p, &o);
    assert_false(o.compile.cached);
    compiled_number(&o, n1, sizeof n1);
    assert_string_not_equal(n1, n2);
    exec_outcome_release(&o);
    assert_int_equal(stats(c).hits, hits); /* no hit counted for it */
    /* dropped and stored again from that compile */
    run_prog(f, &p, &o);
    expect_cached(&o);
    compiled_number(&o, n2, sizeof n2);
    assert_string_equal(n1, n2);
    exec_outcome_release(&o);
    assert_int_equal(stats(c).entries, 1);
    globfree(&g);
}

/* ---- fixture ---- */

static int test_teardown(void **state)
{
    struct fx *f = *state;
    exec_cache_free(f->cache);
    f->cache = NULL;
    return 0;
}

/* The group without boxes: a base directory, the languages. */
static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pid_t pid = getpid();
    config_defaults(&f->cfg);
    (void)snprintf(f->base, sizeof f->base, "/tmp/moat-ut-cache-%d", (int)pid);
    assert_int_equal(mkdir(f->base, 0700), 0);
    (void)snprintf(f->cfg.cache_dir, sizeof f->cfg.cache_dir, "%s/langcache", f->base);
    struct moat_err err = {0};
    int r = lang_registry_parse(langs_ini, sizeof langs_ini - 1, &f->langs, &err);
    if (r < 0)
        fail_msg("languages: %s", err.msg);
    *state = f;
    return 0;
}

/* The group with boxes, run as root only: the same and a real context.
 * A context that cannot be made fails the group (the reason on stderr). */
static int box_group_setup(void **state)
{
    int r = group_setup(state);
    if (r < 0)
        return r;
    struct fx *f = *state;
    sbx_test_fx_init(&f->x, "cache-run", 3970000, 8);
    return sbx_test_fx_start(&f->x);
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    int ret = 0;
    exec_cache_free(f->cache);
    lang_registry_free(f->langs);
    if (sbx_test_fx_stop(&f->x) < 0)
        ret = -1;
    sbx_test_rm_rf(f->base);
    free(f);
    return ret;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test_teardown(test_put_get, test_teardown),
        cmocka_unit_test_teardown(test_entry_bound, test_teardown),
        cmocka_unit_test_teardown(test_lru_eviction, test_teardown),
        cmocka_unit_test_teardown(test_reopen, test_teardown),
        cmocka_unit_test_teardown(test_tampered, test_teardown),
        cmocka_unit_test_teardown(test_threads, test_teardown),
    };
    const struct CMUnitTest box_tests[] = {
        cmocka_unit_test_teardown(test_c_compiled_once, test_teardown),
        cmocka_unit_test_teardown(test_second_run_does_not_compile, test_teardown),
        cmocka_unit_test_teardown(test_compile_error_not_cached, test_teardown),
        cmocka_unit_test_teardown(test_tampered_entry_is_a_miss, test_teardown),
    };
    int failed = cmocka_run_group_tests_name("cache", tests, group_setup, group_teardown);
    /* Without root the box group cannot run: the binary then exits 77
     * (skipped) whatever the first group did, unless that failed. */
    if (geteuid() != 0)
        moat_test_skip_case("the compile cache's box tests need root (euid %d)", (int)geteuid());
    else
        failed += cmocka_run_group_tests_name("cache in boxes", box_tests, box_group_setup,
                                              group_teardown);
    return moat_test_result(failed);
}
