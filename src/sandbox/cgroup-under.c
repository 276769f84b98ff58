/*
 * Where the parent group of the boxes is made: under the root of each
 * hierarchy (the default), under a given group, or under the group moat
 * runs in ("self"): the subtree a service manager delegates to it
 * (systemd's Delegate=yes), so that moat never writes outside it.
 *
 * On cgroup v2 a group with processes may not enable controllers for its
 * children (the no-internal-process rule): before making its parent group
 * under its own, moat moves the processes of its own group into the leaf
 * CG_SELF_LEAF beside it.
 */
#include "cgroup-internal.h"

#include <fcntl.h>

/* The processes of the group moat runs in, once it makes boxes under it. */
#define CG_SELF_LEAF "supervisor"
/* Passes over cgroup.procs: a process forked while they are moved is in
 * the next read (a service's own group holds a handful). */
#define CG_MOVE_PASSES 8

int cg_own_path(const char *self_file, const char *controller, char *out, size_t size)
{
    char buf[4096];
    ssize_t n = read_small_file_at(AT_FDCWD, self_file, buf, sizeof buf);
    if (n < 0)
        return (int)n;
    /* "hierarchy-id:controller,list:/path"; v2's is "0::/path" */
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/')
            continue;
        *c2 = '\0';
        bool match = controller ? cg_words_has(c1 + 1, controller, ',')
                                : strcmp(line, "0:") == 0 && c1[1] == '\0';
        if (!match)
            continue;
        return moat_strlcpy(out, c2 + 1, size) < size ? 0 : -ENAMETOOLONG;
    }
    return -ENOENT;
}

bool cg_under_valid(const char *under)
{
    if (!under[0] || strcmp(under, "self") == 0)
        return true;
    if (under[0] != '/')
        return false;
    /* no way out of the hierarchy, nothing but plain names */
    for (const char *p = under; *p; p++) {
        if (p[0] == '/' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
            return false;
        if (p[0] == '/' && p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0'))
            return false;
    }
    return true;
}

int cg_under_path(const struct cg_root_opts *o, const char *controller, char *out, size_t size)
{
    const char *under = o->under ? o->under : "";
    if (!cg_under_valid(under))
        return -EINVAL;
    if (strcmp(under, "self") == 0)
        return cg_own_path(o->self_cgroup ? o->self_cgroup : "/proc/self/cgroup", controller,
                           out, size);
    return moat_strlcpy(out, under[0] ? under : "/", size) < size ? 0 : -ENAMETOOLONG;
}

int cg_under_open(int mfd, const char *path)
{
    while (*path == '/')
        path++;
    if (!*path)
        return open_beneath(mfd, ".", O_RDONLY | O_DIRECTORY, 0);
    return open_beneath(mfd, path, O_RDONLY | O_DIRECTORY, 0);
}

/* Moves every process of dirfd's group into its child CG_SELF_LEAF. */
int cg_v2_leave_for_leaf(const struct cg_common *c, int dirfd)
{
    _cleanup_close_ int leaf = -1;
    int r = cg_mkdir_open(dirfd, CG_SELF_LEAF, false, &leaf);
    if (r < 0)
        return r;
    for (int pass = 0; pass < CG_MOVE_PASSES; pass++) {
        char procs[4096];
        ssize_t n = cg_io_read(c, dirfd, "cgroup.procs", procs, sizeof procs);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        for (char *p = procs, *next; p && *p; p = next) {
            next = strchr(p, '\n');
            if (next)
                *next++ = '\0';
            r = cg_io_write(c, leaf, "cgroup.procs", p);
            if (r < 0 && r != -ESRCH) /* ESRCH: exited meanwhile */
                return r;
        }
        if (c->fake) /* a fake tree's files do not move: one pass */
            return 0;
    }
    return -EBUSY;
}
