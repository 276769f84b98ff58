/*
 * moat submit --tests DIR: a directory of test cases (N.in, with N.out
 * when the output is judged) as the job's tests, and the table of their
 * verdicts. Tests run in the order of their names read as numbers (1, 2,
 * 10), names that are not numbers after those, by name.
 */
#include <dirent.h>
#include <jansson.h>

#include "cli.h"

struct test_name {
    char stem[256];
    uint64_t num;
    bool numeric;
};

static int by_stem(const void *a, const void *b)
{
    const struct test_name *x = a, *y = b;
    if (x->numeric != y->numeric)
        return x->numeric ? -1 : 1;
    if (x->numeric && x->num != y->num)
        return x->num < y->num ? -1 : 1;
    return strcmp(x->stem, y->stem);
}

/* The stems of DIR's *.in files, sorted; -errno. */
static int list_stems(const char *dir, struct test_name **out, size_t *n, size_t max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct test_name *v = NULL;
    size_t len = 0;
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".in") != 0 || l - 3 >= sizeof(v->stem))
            continue;
        if (len == max) {
            r = -E2BIG;
            break;
        }
        struct test_name *nv = realloc(v, (len + 1) * sizeof(*v));
        if (!nv) {
            r = -ENOMEM;
            break;
        }
        v = nv;
        struct test_name *t = &v[len++];
        memcpy(t->stem, e->d_name, l - 3);
        t->stem[l - 3] = '\0';
        t->numeric = parse_u64(t->stem, 0, UINT64_MAX, &t->num) == 0;
    }
    (void)closedir(d);
    if (r < 0 || len == 0) {
        free(v);
        return r < 0 ? r : -ENOENT;
    }
    qsort(v, len, sizeof(*v), by_stem);
    *out = v;
    *n = len;
    return 0;
}

/* dir/stem.ext into *text (a JSON string of the bytes, which must be
 * UTF-8); 0, -ENOENT when the file is absent, -errno. */
static int read_part(const char *dir, const char *stem, const char *ext, size_t max,
                     json_t **text)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, stem, ext) >= sizeof(path))
        return -ENAMETOOLONG;
    char *data = NULL;
    size_t len = 0;
    int r = cli_read_file(path, max, &data, &len);
    if (r < 0)
        return r;
    *text = json_stringn(data, len);
    free(data);
    if (!*text) {
        (void)fprintf(stderr, "moat submit: %s is not UTF-8 text\n", path);
        return -EILSEQ;
    }
    return 0;
}

int cli_tests_read(const char *dir, size_t max_tests, size_t max_in, size_t max_out,
                   json_t **tests, char ***names, size_t *n)
{
    struct test_name *stems = NULL;
    size_t k = 0;
    int r = list_stems(dir, &stems, &k, max_tests);
    if (r < 0) {
        (void)fprintf(stderr, "moat submit: --tests %s: %s\n", dir,
                      r == -ENOENT   ? "no N.in files there"
                      : r == -E2BIG ? "more tests than the server takes"
                                    : strerror(-r));
        return r;
    }
    json_t *a = json_array();
    char **nm = calloc(k ? k : 1, sizeof(*nm));
    for (size_t i = 0; a && nm && r == 0 && i < k; i++) {
        json_t *in = NULL, *out = NULL;
        r = read_part(dir, stems[i].stem, ".in", max_in, &in);
        if (r == 0) {
            r = read_part(dir, stems[i].stem, ".out", max_out, &out);
            if (r == -ENOENT)
                r = 0; /* not judged */
        }
        if (r == 0) {
            json_t *t = json_pack("{s:o}", "stdin", in);
            if (out && t)
                (void)json_object_set_new(t, "expectedOutput", out);
            else
                json_decref(out);
            if (!t || json_array_append_new(a, t) < 0 || !(nm[i] = strdup(stems[i].stem)))
                r = -ENOMEM;
        } else {
            json_decref(in);
            if (r != -EILSEQ)
                (void)fprintf(stderr, "moat submit: %s/%s: %s\n", dir, stems[i].stem,
                              strerror(-r));
        }
    }
    free(stems);
    if (!a || !nm || r < 0) {
        json_decref(a);
        for (size_t i = 0; nm && i < k; i++)
            free(nm[i]);
        free(nm);
        return r < 0 ? r : -ENOMEM;
    }
    *tests = a;
    *names = nm;
    *n = k;
    return 0;
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

int cli_tests_print(json_t *job, char *const *names, size_t n)
{
    json_t *tests = json_object_get(job, "tests");
    const char *verdict = json_string_value(json_object_get(job, "verdict"));
    size_t passed = 0;
    (void)printf("%-12s %-16s %9s %9s %10s\n", "test", "verdict", "time ms", "wall ms",
                 "memory KB");
    for (size_t i = 0; i < n && i < json_array_size(tests); i++) {
        json_t *t = json_array_get(tests, i);
        const char *v = json_string_value(json_object_get(t, "verdict"));
        v = v ? v : "-";
        passed += strcmp(v, "accepted") == 0 || strcmp(v, "ok") == 0;
        (void)printf("%-12s %-16s %9lld %9lld %10lld\n", names[i], v, num(t, "timeMs"),
                     num(t, "wallTimeMs"), num(t, "memoryKb"));
    }
    (void)printf("%zu of %zu passed: %s\n", passed, n, verdict ? verdict : "not run");
    const char *error = json_string_value(json_object_get(job, "error"));
    json_t *compile = json_object_get(job, "compile");
    if (verdict && strcmp(verdict, "compile_error") == 0 && json_is_object(compile))
        (void)fputs(json_string_value(json_object_get(compile, "stderr")) ?: "", stderr);
    else if (error && passed < n)
        (void)fprintf(stderr, "moat: %s\n", error);
    if (!verdict)
        return 125;
    if (strcmp(verdict, "accepted") == 0 || strcmp(verdict, "ok") == 0)
        return 0;
    if (strcmp(verdict, "compile_error") == 0)
        return 1;
    if (strcmp(verdict, "internal_error") == 0 || strcmp(verdict, "cancelled") == 0)
        return 125;
    return 4; /* a test failed */
}
