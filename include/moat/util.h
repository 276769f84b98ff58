#pragma once
/*
 * util: small shared pieces every module uses. Error reporting, cleanup
 * attributes, checked size math, strict number parsing, bounded buffers,
 * monotonic time, logging. Nothing here allocates behind the caller's back
 * except buf_, which always has a caller-given maximum.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Human-readable detail of a failure; the int return carries -errno. */
#define MOAT_ERR_MAX 256
struct moat_err {
    int code;               /* -errno, 0 when unset */
    char field[64];         /* name of the input at fault, "" when none */
    char msg[MOAT_ERR_MAX]; /* lowercase, no trailing period */
};

/* Records code and a formatted message into err (which may be NULL) and
 * returns code, so that callers can `return moat_err_set(err, -EINVAL, ...)`. */
__attribute__((format(printf, 3, 4))) int moat_err_set(struct moat_err *err, int code,
                                                       const char *fmt, ...);
/* Same, naming the input field at fault. */
__attribute__((format(printf, 4, 5))) int moat_err_field(struct moat_err *err, int code,
                                                         const char *field, const char *fmt, ...);

/* ---- cleanup (systemd/bubblewrap style) ---- */
#define _cleanup_(f) __attribute__((cleanup(f)))
void moat_freep(void *p);
void moat_closep(const int *fd);
void moat_fclosep(FILE **f);
#define _cleanup_free_ _cleanup_(moat_freep)
#define _cleanup_close_ _cleanup_(moat_closep)
#define _cleanup_fclose_ _cleanup_(moat_fclosep)

static inline void *moat_take_ptr_(void **pp)
{
    void *p = *pp;
    *pp = NULL;
    return p;
}
#define TAKE_PTR(p) moat_take_ptr_((void **)&(p))
static inline int moat_take_fd_(int *pfd)
{
    int fd = *pfd;
    *pfd = -1;
    return fd;
}
#define TAKE_FD(fd) moat_take_fd_(&(fd))

#define MOAT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What this binary is: version (CMake's project()), the commit it was
 * built from ("…-dirty" with local changes, "unknown" outside git), its
 * variant ("release" or "asan+ubsan"). Static; never NULL. */
struct moat_build {
    const char *version, *commit, *variant;
};
const struct moat_build *moat_build_info(void);

/* Security invariants: stays on in release builds (redis serverAssert). */
#define MOAT_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            moat_assert_fail(#cond, __FILE__, __LINE__);                                           \
    } while (0)
__attribute__((noreturn)) void moat_assert_fail(const char *expr, const char *file, int line);

/* ---- checked size math: returns false and leaves *out unchanged on overflow ---- */
static inline bool size_add(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}
static inline bool size_mul(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

/* ---- strict parsing: whole string, decimal, in [min, max]; -EINVAL or -ERANGE ---- */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int parse_bool(const char *s, bool *out);

/* ---- bounded growable buffer (curl dynbuf): never grows past max ---- */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};
void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* -ENOBUFS when the result would exceed max (nothing appended), -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t len);
__attribute__((format(printf, 2, 3))) int buf_printf(struct buf *b, const char *fmt, ...);
/* Ensures data is NUL-terminated (not counted in len). */
int buf_terminate(struct buf *b);
/* Hands the storage to the caller (caller frees); b becomes empty. */
char *buf_steal(struct buf *b, size_t *len);

/* ---- strings ---- */
/* Copies at most dstsize-1 bytes and always terminates; returns strlen(src). */
size_t moat_strlcpy(char *dst, const char *src, size_t dstsize);
char *moat_strdup(const char *s); /* aborts on ENOMEM: only for small config strings */
/* A malloc'd copy of len bytes (which may hold NULs) plus a terminating
 * NUL; data may be NULL when len is 0. NULL on ENOMEM. */
char *moat_memdup0(const void *data, size_t len);
/* Splits list at sep into at most max items, blanks around each trimmed
 * and empty ones skipped; the items point into buf (a copy of list). The
 * count, or -EINVAL (list longer than buf, or no item), -E2BIG (more than
 * max). */
int str_split(const char *list, char sep, char *buf, size_t size, const char **items, int max);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/* ---- time ---- */
uint64_t moat_now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t moat_realtime_ms(void); /* CLOCK_REALTIME, ms since epoch */

/* ---- io helpers: retry on EINTR, loop on short transfers; -errno ---- */
int write_full(int fd, const void *data, size_t len);
/* On a socket: a peer that is gone is -EPIPE, never a SIGPIPE. */
int send_full(int fd, const void *data, size_t len);
int read_full(int fd, void *data, size_t len); /* -EPIPE on early EOF */
/* Reads a small file (< max bytes) at dirfd/path into buf (NUL-terminated). */
ssize_t read_small_file_at(int dirfd, const char *path, char *buf, size_t max);
/* Opens path under dirfd without leaving it: openat2 with RESOLVE_BENEATH,
 * no symlink anywhere on the path (nor magic links), no mount crossing;
 * O_NOFOLLOW and O_CLOEXEC always. Before Linux 5.6 (no openat2) only
 * O_NOFOLLOW guards the last component. mode is used with O_CREAT. -errno. */
int open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Writes string s to dirfd/path (O_WRONLY, no O_CREAT, no follow). */
int write_file_at(int dirfd, const char *path, const char *s);

/* ---- identifiers, digests, encodings ---- */
#define MOAT_UUID_LEN 36 /* "0193e3c2-7b1a-7c3e-9f00-2a5b8d1c4e6f" without the NUL */
/* A new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, rand_a the
 * sub-millisecond fraction (method 3, so ids of one process sort by creation
 * time without shared state), the rest from getrandom. Lowercase, hyphenated,
 * NUL-terminated. Thread-safe. */
void moat_uuid7(char out[MOAT_UUID_LEN + 1]);
/* s is exactly 8-4-4-4-12 hex digits (either case), nothing more. */
bool moat_uuid_valid(const char *s);

#define MOAT_SHA256_HEX_LEN 64
/* Lowercase hex SHA-256 of data (NULL only with len 0), NUL-terminated. */
void moat_sha256_hex(const void *data, size_t len, char out[MOAT_SHA256_HEX_LEN + 1]);

/* Strict base64 (RFC 4648 section 4): padding required, no whitespace, no
 * other alphabet. *out is malloc'd (caller frees; NUL-terminated, not
 * counted in *outlen). -EINVAL on any bad input, -ENOMEM. */
int moat_base64_decode(const char *in, size_t len, char **out, size_t *outlen);
/* Encodes into a malloc'd NUL-terminated string (caller frees); NULL on ENOMEM. */
char *moat_base64_encode(const void *data, size_t len, size_t *outlen);

/* ---- logging: logfmt lines on stderr ---- */
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
/* Atomic: a reload (SIGHUP) changes it while other threads log. */
extern _Atomic enum log_level moat_log_level;
/* Sets moat_log_level by name ("error", "warn", "info", "debug"): 0, or
 * -EINVAL for another name. */
int moat_log_level_set(const char *name);
__attribute__((format(printf, 2, 3))) void moat_log(enum log_level lvl, const char *fmt, ...);
#define log_error(...) moat_log(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) moat_log(LOG_WARN, __VA_ARGS__)
#define log_info(...) moat_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (moat_log_level >= LOG_DEBUG)                                                           \
            moat_log(LOG_DEBUG, __VA_ARGS__);                                                      \
    } while (0)

#include "moat/banned.h"
