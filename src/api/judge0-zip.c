/*
 * Judge0's additional_files: a zip (untrusted) whose entries become job
 * files beside the program. Read with libzip from memory, never written to
 * disk here: the box's init writes the job's files, and checks their names
 * again.
 *
 * Threats, and what stops each:
 *  - a path escape ("../x", "/etc/x", "a/../../x"): every name must pass
 *    sbx_file_name_ok (relative, no "." or ".." component, a small set of
 *    characters), else the zip is refused;
 *  - a symbolic link (a Unix mode in the external attributes): refused, a
 *    link could point out of the box's directory;
 *  - a zip bomb: the entries' declared sizes are summed first against the
 *    bound, then each entry is read with at most its declared size + 1
 *    bytes, so a header that lies about the size is caught and nothing
 *    larger than the bound is ever inflated;
 *  - too many entries: bounded before any is read.
 */
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "judge0-internal.h"
#include "moat/sandbox.h"
#include "moat/util.h"

__attribute__((format(printf, 3, 4))) static int refuse(char *msg, size_t msgsz, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool is_link(zip_t *z, zip_uint64_t i)
{
    zip_uint8_t os = 0;
    zip_uint32_t attr = 0;
    if (zip_file_get_external_attributes(z, i, 0, &os, &attr) < 0)
        return true; /* cannot tell: not trusted */
    return os == ZIP_OPSYS_UNIX && ((attr >> 16) & S_IFMT) == S_IFLNK;
}

/* Reads entry i, exactly want bytes, into a new buffer (*out). */
static int read_entry(zip_t *z, zip_uint64_t i, size_t want, char **out, char *msg, size_t msgsz)
{
    zip_file_t *f = zip_fopen_index(z, i, 0);
    if (!f)
        return refuse(msg, msgsz, "has an entry that cannot be read");
    char *data = malloc(want + 1);
    if (!data) {
        (void)zip_fclose(f);
        return -ENOMEM;
    }
    /* one byte more than declared: a lying header shows */
    size_t got = 0;
    zip_int64_t n = 0;
    while (got <= want && (n = zip_fread(f, data + got, want + 1 - got)) > 0)
        got += (size_t)n;
    (void)zip_fclose(f);
    if (n < 0 || got != want) {
        free(data);
        return refuse(msg, msgsz, "has an entry whose size is not the one its header declares");
    }
    data[want] = '\0';
    *out = data;
    return 0;
}

/* Checks every entry's name, kind and declared size before any is read. */
static int check_entries(zip_t *z, zip_int64_t n, uint64_t max_bytes, size_t *nfiles, char *msg,
                         size_t msgsz)
{
    uint64_t total = 0;
    *nfiles = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) < 0 || !(st.valid & ZIP_STAT_NAME) ||
            !(st.valid & ZIP_STAT_SIZE))
            return refuse(msg, msgsz, "has an entry that cannot be read");
        size_t len = strlen(st.name);
        if (len > 0 && st.name[len - 1] == '/')
            continue; /* a directory: made by the files under it */
        if (!sbx_file_name_ok(st.name))
            return refuse(msg, msgsz, "has an entry whose name is not allowed: '%.80s'", st.name);
        if (is_link(z, (zip_uint64_t)i))
            return refuse(msg, msgsz, "has a symbolic link: '%.80s'", st.name);
        if (st.size > max_bytes || total + st.size > max_bytes)
            return refuse(msg, msgsz, "unpacks to more than %llu KB",
                          (unsigned long long)(max_bytes / 1024));
        total += st.size;
        (*nfiles)++;
    }
    return 0;
}

int j0_unzip(const char *zip, size_t len, uint64_t max_kb, uint64_t max_files,
             struct job_file **out, size_t *nout, char *msg, size_t msgsz)
{
    *out = NULL;
    *nout = 0;
    zip_error_t zerr;
    zip_error_init(&zerr);
    zip_source_t *src = zip_source_buffer_create(zip, len, 0, &zerr);
    if (!src) {
        zip_error_fini(&zerr);
        return -ENOMEM;
    }
    zip_t *z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    zip_error_fini(&zerr);
    if (!z) {
        zip_source_free(src);
        return refuse(msg, msgsz, "is not a zip archive");
    }
    zip_int64_t n = zip_get_num_entries(z, 0);
    size_t nfiles = 0;
    int r = n < 0 ? refuse(msg, msgsz, "is not a zip archive") : 0;
    if (r == 0 && (uint64_t)n > max_files)
        r = refuse(msg, msgsz, "has more than %llu entries", (unsigned long long)max_files);
    if (r == 0)
        r = check_entries(z, n, max_kb * 1024, &nfiles, msg, msgsz);
    struct job_file *files = r == 0 && nfiles ? calloc(nfiles, sizeof(*files)) : NULL;
    if (r == 0 && nfiles && !files)
        r = -ENOMEM;
    size_t k = 0;
    for (zip_int64_t i = 0; r == 0 && i < n && k < nfiles; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) < 0) {
            r = refuse(msg, msgsz, "has an entry that cannot be read");
            break;
        }
        size_t nlen = strlen(st.name);
        if (nlen > 0 && st.name[nlen - 1] == '/')
            continue;
        files[k].name = strdup(st.name);
        if (!files[k].name) {
            r = -ENOMEM;
            break;
        }
        files[k].len = (size_t)st.size;
        r = read_entry(z, (zip_uint64_t)i, (size_t)st.size, &files[k].data, msg, msgsz);
        k++;
    }
    zip_discard(z); /* frees src too */
    if (r < 0) {
        for (size_t i = 0; i < k; i++) {
            free(files[i].name);
            free(files[i].data);
        }
        free(files);
        return r;
    }
    *out = files;
    *nout = nfiles;
    return 0;
}
