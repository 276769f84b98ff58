/*
 * Handing a step's files back to the host (the compile cache keeps a
 * compile step's artifacts). Box init walks /box after the step, when every
 * process of the box is dead and nothing changes the tree under it. The
 * tree was still made by the hostile program: the walk never follows a
 * link, never leaves /box's mount, opens only directories and regular files
 * (a fifo would block, a device would not be a file), and bounds depth,
 * entries looked at, files and bytes. A sparse file is refused by its size
 * before any byte of it is read.
 */
#include "box-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define COLLECT_MAX_DEPTH 16
/* Directory entries of every kind looked at; a step that makes more has
 * made too much to hand back (overflow). */
#define COLLECT_MAX_ENTRIES 4096

struct walk {
    const struct wire_step *step;
    struct sbx_result *res;
    dev_t dev;       /* /box's file system: nothing else is walked */
    uint64_t budget; /* bytes that may be handed back in all */
    uint64_t total;
    size_t entries;
    bool overflow;
};

static bool is_input(const struct wire_step *s, const char *path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].name && strcmp(s->files[i].name, path) == 0)
            return true;
    return false;
}

/* Reads the regular file name (path under /box) into the next slot. */
static int take_file(struct walk *w, int dirfd, const char *name, const char *path)
{
    struct sbx_result *res = w->res;
    int fd = open_beneath(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
    if (fd < 0) {
        res->collect_skipped = true;
        return 0;
    }
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != w->dev) {
        res->collect_skipped = true;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (res->ncollected >= SBX_COLLECT_MAX_FILES || size > w->budget - w->total) {
        w->overflow = true;
        goto out;
    }
    struct sbx_collected *c = &res->collected[res->ncollected];
    c->name = strdup(path);
    c->data = malloc(size ? (size_t)size : 1);
    if (!c->name || !c->data) {
        r = -ENOMEM;
        goto out; /* released with the result */
    }
    res->ncollected++;
    r = read_full(fd, c->data, (size_t)size);
    if (r < 0) {
        r = r == -EPIPE ? -EIO : r; /* nothing runs: a file cannot shrink */
        goto out;
    }
    c->len = (size_t)size;
    c->executable = (st.st_mode & S_IXUSR) != 0;
    w->total += size;
out:
    (void)close(fd);
    return r;
}

/* Walks the directory fd (taken) whose path under /box is prefix
 * ("" for /box itself). */
static int walk_dir(struct walk *w, int fd, const char *prefix, unsigned depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        (void)close(fd);
        return e;
    }
    int r = 0;
    struct dirent *e;
    while (r == 0 && !w->overflow && (errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (++w->entries > COLLECT_MAX_ENTRIES) {
            w->overflow = true;
            break;
        }
        char path[256];
        int n = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != w->dev) {
            w->res->collect_skipped = true;
            continue;
        }
        bool name_ok = n > 0 && (size_t)n < sizeof(path) && sbx_file_name_ok(path);
        if (S_ISDIR(st.st_mode) && name_ok) {
            if (depth + 1 >= COLLECT_MAX_DEPTH) {
                w->overflow = true;
                break;
            }
            int sub = open_beneath(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY, 0);
            if (sub < 0)
                w->res->collect_skipped = true;
            else
                r = walk_dir(w, sub, path, depth + 1);
        } else if (S_ISREG(st.st_mode) && name_ok) {
            if (!is_input(w->step, path))
                r = take_file(w, dirfd(d), e->d_name, path);
        } else {
            w->res->collect_skipped = true; /* a link, fifo, socket, device, bad name */
        }
    }
    if (r == 0 && !w->overflow && errno != 0)
        r = -errno;
    (void)closedir(d);
    return r;
}

static void drop_collected(struct sbx_result *res)
{
    for (size_t i = 0; i < res->ncollected; i++) {
        free(res->collected[i].name);
        free(res->collected[i].data);
    }
    free(res->collected);
    res->collected = NULL;
    res->ncollected = 0;
}

int collect_box_files(int boxfd, const struct wire_step *s, uint64_t room, struct sbx_result *res)
{
    struct stat st;
    if (fstat(boxfd, &st) < 0)
        return -errno;
    /* one slot more than allowed is never filled: overflow comes first */
    res->collected = calloc(SBX_COLLECT_MAX_FILES, sizeof(*res->collected));
    if (!res->collected)
        return -ENOMEM;
    struct walk w = {.step = s,
                     .res = res,
                     .dev = st.st_dev,
                     .budget = s->collect_max_bytes < room ? s->collect_max_bytes : room};
    int dfd = open_beneath(boxfd, ".", O_RDONLY | O_DIRECTORY, 0);
    int r = dfd < 0 ? dfd : walk_dir(&w, dfd, "", 0);
    if (r < 0 || w.overflow)
        drop_collected(res);
    if (r < 0) {
        res->collect_skipped = false;
        return r;
    }
    res->collect_overflow = w.overflow;
    if (res->ncollected == 0)
        drop_collected(res);
    return 0;
}

int collect_check(const struct sbx_step *step, const struct sbx_result *res)
{
    if (!step->collect)
        return res->ncollected || res->collect_overflow || res->collect_skipped ? -EPROTO : 0;
    if (res->ncollected > SBX_COLLECT_MAX_FILES || (res->collect_overflow && res->ncollected))
        return -EPROTO;
    uint64_t total = 0;
    for (size_t i = 0; i < res->ncollected; i++) {
        const struct sbx_collected *c = &res->collected[i];
        if (!c->name || !sbx_file_name_ok(c->name) || c->len > step->collect_max_bytes - total)
            return -EPROTO;
        total += c->len;
        for (size_t j = 0; j < i; j++)
            if (strcmp(res->collected[j].name, c->name) == 0)
                return -EPROTO;
        for (size_t j = 0; j < step->nfiles; j++)
            if (strcmp(step->files[j].name, c->name) == 0)
                return -EPROTO;
    }
    return 0;
}
