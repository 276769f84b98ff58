/*
 * moat submit: the command-line client of the HTTP API (seed 002's CLI
 * mode). Submits a file, waits for the job, prints its output and exits
 * with the program's exit code, as `moat run` does locally.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <libgen.h>

#include "cli.h"

#include "moat/job.h"

#define DEFAULT_SERVER "http://127.0.0.1:8080"

struct submit_opts {
    const char *lang;
    const char *stdin_path;
    const char *tests_dir;
    json_t *tests;  /* read from tests_dir */
    char **names;   /* each test's N */
    size_t ntests;
    const char *server;
    bool wait;
    bool json;
    bool help;
    int64_t priority;
};

static int submit_own(void *arg, const char *name, const char *value)
{
    struct submit_opts *o = arg;
    if (strcmp(name, "tests") == 0) {
        if (!value) {
            (void)fprintf(stderr, "moat submit: --tests takes a directory\n");
            return -2;
        }
        o->tests_dir = value;
        return 1;
    }
    if (strcmp(name, "lang") == 0 || strcmp(name, "stdin") == 0 ||
        strcmp(name, "server") == 0) {
        const char **slot = name[0] == 'l' ? &o->lang : name[1] == 't' ? &o->stdin_path
                                                                        : &o->server;
        *slot = value;
        return 1;
    }
    if (strcmp(name, "priority") == 0) {
        if (!value || parse_i64(value, JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, &o->priority) < 0) {
            (void)fprintf(stderr, "moat submit: --priority takes 0..10\n");
            return -2;
        }
        return 1;
    }
    bool *flag = strcmp(name, "wait") == 0      ? &o->wait
                 : strcmp(name, "json") == 0    ? &o->json
                 : strcmp(name, "help") == 0    ? &o->help
                 : strcmp(name, "no-wait") == 0 ? &o->wait
                                                : NULL;
    if (!flag)
        return -1;
    *flag = strcmp(name, "no-wait") != 0;
    return 0;
}

static void usage(FILE *out)
{
    (void)fprintf(out,
                  "usage: moat submit FILE [--lang NAME] [--stdin FILE | --tests DIR]\n"
                  "                   [--server URL] [--priority 0..10] [--wait | --no-wait]\n"
                  "                   [--json]\n\n"
                  "Submits FILE to a moat server (--server, else $MOAT_SERVER, else %s),\n"
                  "waits for the job (unless --no-wait), prints its output, and exits with\n"
                  "the program's exit code (124 time limit, 1 compile error, 125 when moat\n"
                  "failed). --json prints the whole job instead. --no-wait prints the id.\n"
                  "--tests DIR: each N.in of DIR is a test's stdin, N.out (when there is\n"
                  "one) its expected output; the program is compiled once, every test runs\n"
                  "in a box of its own, and a table of their verdicts is printed (exit 0:\n"
                  "all passed, 4: a test failed).\n"
                  "An API key is sent from $MOAT_API_KEY (never a flag: it would show in\n"
                  "ps).\n",
                  DEFAULT_SERVER);
}

struct http_reply {
    long status;
    struct buf body;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct http_reply *r = arg;
    size_t len = size * n;
    return buf_append(&r->body, ptr, len) == 0 ? len : 0;
}

/* One request; body NULL for a GET. 0 with *reply filled, or -EIO. */
static int http(CURL *curl, const char *url, const char *body, struct http_reply *reply)
{
    buf_release(&reply->body);
    buf_init(&reply->body, 64u << 20);
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    struct curl_slist *hdr = NULL;
    const char *key = getenv("MOAT_API_KEY");
    if (key && *key && strlen(key) < 256) {
        char auth[300];
        (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
        hdr = curl_slist_append(hdr, auth);
    }
    if (body) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    if (hdr)
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
    CURLcode c = curl_easy_perform(curl);
    curl_slist_free_all(hdr);
    if (c != CURLE_OK) {
        (void)fprintf(stderr, "moat submit: %s: %s\n", url, curl_easy_strerror(c));
        return -EIO;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    return 0;
}

/* The request body: the source as "code" when it is UTF-8, else as a
 * base64 file. */
static char *make_body(const struct submit_opts *o, const char *lang, const char *path,
                       const char *code, size_t len, const char *in, size_t inlen)
{
    json_t *root = json_pack("{s:s, s:I, s:b}", "language", lang, "priority",
                             (json_int_t)o->priority, "wait", o->wait);
    json_t *text = json_stringn(code, len);
    if (text) {
        json_object_set_new(root, "code", text);
    } else {
        char tmp[512];
        moat_strlcpy(tmp, path, sizeof(tmp));
        char *b64 = moat_base64_encode(code, len, NULL);
        json_object_set_new(root, "files",
                            json_pack("[{s:s, s:s*, s:s}]", "name", basename(tmp), "content",
                                      b64, "encoding", "base64"));
        free(b64);
    }
    if (in)
        json_object_set_new(root, "stdin", json_stringn(in, inlen));
    if (o->tests)
        json_object_set(root, "tests", o->tests);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static int exit_code_of(json_t *job)
{
    const char *status = json_string_value(json_object_get(job, "status"));
    const char *verdict = json_string_value(json_object_get(job, "verdict"));
    if (!status || strcmp(status, "completed") != 0 || !verdict)
        return 125;
    if (strcmp(verdict, "compile_error") == 0)
        return 1;
    if (strcmp(verdict, "internal_error") == 0)
        return 125;
    return (int)json_integer_value(json_object_get(job, "exitCode"));
}

static void print_job(json_t *job)
{
    json_t *compile = json_object_get(job, "compile");
    const char *verdict = json_string_value(json_object_get(job, "verdict"));
    if (verdict && strcmp(verdict, "compile_error") == 0 && json_is_object(compile)) {
        (void)fputs(json_string_value(json_object_get(compile, "stdout")) ?: "", stdout);
        (void)fputs(json_string_value(json_object_get(compile, "stderr")) ?: "", stderr);
    }
    (void)fputs(json_string_value(json_object_get(job, "output")) ?: "", stdout);
    (void)fputs(json_string_value(json_object_get(job, "stderr")) ?: "", stderr);
    const char *error = json_string_value(json_object_get(job, "error"));
    if (error)
        (void)fprintf(stderr, "moat: %s\n", error);
}

/* Waits for the job to be final: the server answers a wait for at most
 * its max_wait, so ask again until it is. */
static int await(CURL *curl, const char *server, json_t **job, struct http_reply *reply)
{
    for (int round = 0; round < 100000; round++) {
        const char *status = json_string_value(json_object_get(*job, "status"));
        if (status && strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)
            return 0;
        const char *id = json_string_value(json_object_get(*job, "jobId"));
        if (!id)
            return -EPROTO;
        char url[512];
        (void)snprintf(url, sizeof(url), "%s/v1/jobs/%s?wait=true", server, id);
        if (http(curl, url, NULL, reply) < 0)
            return -EIO;
        json_t *next = json_loadb(reply->body.data, reply->body.len, 0, NULL);
        if (!next)
            return -EPROTO;
        json_decref(*job);
        *job = next;
    }
    return -ETIMEDOUT;
}

static int submit(const struct submit_opts *o, const char *lang, const char *path,
                  const char *code, size_t len, const char *in, size_t inlen)
{
    const char *server = o->server ? o->server : getenv("MOAT_SERVER");
    if (!server)
        server = DEFAULT_SERVER;
    char *body = make_body(o, lang, path, code, len, in, inlen);
    CURL *curl = curl_easy_init();
    if (!body || !curl) {
        free(body);
        curl_easy_cleanup(curl);
        return 125;
    }
    char url[512];
    (void)snprintf(url, sizeof(url), "%s/v1/jobs", server);
    struct http_reply reply = {0};
    int rc = 125;
    json_t *job = NULL;
    if (http(curl, url, body, &reply) < 0)
        goto out;
    job = json_loadb(reply.body.data, reply.body.len, 0, NULL);
    if (reply.status >= 400 || !job) {
        (void)fprintf(stderr, "moat submit: the server answered %ld: %.*s\n", reply.status,
                      (int)reply.body.len, reply.body.data ? reply.body.data : "");
        rc = reply.status == 400 || reply.status == 413 || reply.status == 415 ? 2 : 125;
        goto out;
    }
    if (!o->wait) {
        (void)printf("%s\n", json_string_value(json_object_get(job, "jobId")) ?: "");
        rc = 0;
        goto out;
    }
    if (await(curl, server, &job, &reply) < 0) {
        (void)fprintf(stderr, "moat submit: the server's answers make no sense\n");
        goto out;
    }
    if (o->json) {
        char *text = json_dumps(job, JOB_JSON_DUMP_FLAGS);
        if (text)
            (void)puts(text);
        free(text);
        rc = exit_code_of(job);
    } else if (o->tests) {
        rc = cli_tests_print(job, o->names, o->ntests);
    } else {
        print_job(job);
        rc = exit_code_of(job);
    }
out:
    json_decref(job);
    buf_release(&reply.body);
    curl_easy_cleanup(curl);
    free(body);
    return rc;
}

int cli_submit(int argc, char **argv)
{
    struct moat_config cfg;
    int r = cli_load_config(&cfg, argc, argv);
    if (r)
        return r;
    struct submit_opts o = {.wait = true, .priority = JOB_PRIORITY_DEFAULT};
    const char *pos[1];
    struct cli_parse p = {.cmd = "submit", .scope = 0, .own = submit_own, .arg = &o,
                          .positional = pos, .maxpositional = 1};
    if ((r = cli_parse_args(argc, argv, &cfg, &p)) != 0)
        return r;
    if (o.help || p.npositional != 1) {
        usage(o.help ? stdout : stderr);
        return o.help ? 0 : CLI_EXIT_USAGE;
    }
    const char *lang = o.lang;
    struct lang_registry *langs = NULL;
    if (!lang) {
        const struct lang *l = NULL;
        if (cli_load_languages(&cfg, &langs) == 0)
            l = lang_for_file(langs, pos[0]);
        if (!l) {
            (void)fprintf(stderr, "moat submit: %s: say the language with --lang\n", pos[0]);
            lang_registry_free(langs);
            return CLI_EXIT_USAGE;
        }
        lang = l->name;
    }
    char *code = NULL, *in = NULL;
    size_t len = 0, inlen = 0;
    if (o.tests_dir && o.stdin_path) {
        (void)fprintf(stderr, "moat submit: --stdin or --tests, not both\n");
        lang_registry_free(langs);
        return CLI_EXIT_USAGE;
    }
    r = cli_read_file(pos[0], cfg.max_code_kb << 10, &code, &len);
    if (r == 0 && o.stdin_path)
        r = cli_read_file(o.stdin_path, cfg.max_stdin_kb << 10, &in, &inlen);
    if (r < 0)
        (void)fprintf(stderr, "moat submit: %s\n", strerror(-r));
    if (r == 0 && o.tests_dir)
        r = cli_tests_read(o.tests_dir, cfg.max_tests, cfg.max_stdin_kb << 10,
                           cfg.max_limits.max_output_kb << 10, &o.tests, &o.names, &o.ntests);
    if (r < 0) {
        r = CLI_EXIT_USAGE;
    } else {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = submit(&o, lang, pos[0], code, len, in, inlen);
        curl_global_cleanup();
    }
    free(code);
    free(in);
    json_decref(o.tests);
    for (size_t i = 0; i < o.ntests; i++)
        free(o.names[i]);
    free(o.names);
    lang_registry_free(langs);
    return r;
}
