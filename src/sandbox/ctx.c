/* The sandbox context: configuration, cgroup root, compiled seccomp filter. */
#include "box-internal.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[300];
    if (moat_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int sbx_ctx_open_cgroups(struct sbx_ctx *ctx, struct moat_err *err)
{
    struct cg_root_opts o = {.fs = "/sys/fs/cgroup",
                             .mountinfo = "/proc/self/mountinfo",
                             .name = ctx->cgroup_name,
                             .under = ctx->cgroup_under,
                             .self_cgroup = "/proc/self/cgroup"};
    struct cg_root *root = NULL;
    int r = cg_root_open(&o, &root, err);
    if (r < 0)
        return r;
    cg_root_free(ctx->cg);
    ctx->cg = root;
    /* v2's "self" resolved once: moat's processes have left that group
     * for a leaf, where "self" would now point (the spawner, a re-open) */
    (void)moat_strlcpy(ctx->cgroup_under, cg_root_under(root), sizeof(ctx->cgroup_under));
    return 0;
}

int sbx_ctx_new(const struct sbx_config *cfg, struct sbx_ctx **out, struct moat_err *err)
{
    if (cfg->uid_count == 0 || cfg->first_uid < 1000)
        return moat_err_set(err, -EINVAL, "box uids must start at 1000 or above");
    if (geteuid() != 0)
        return moat_err_set(err, -EPERM, "moat must run as root to build sandboxes");
    struct sbx_ctx *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->cfg = *cfg;
    moat_strlcpy(ctx->run_dir, cfg->run_dir, sizeof(ctx->run_dir));
    moat_strlcpy(ctx->cgroup_name, cfg->cgroup_name, sizeof(ctx->cgroup_name));
    if (moat_strlcpy(ctx->cgroup_under, cfg->cgroup_under ? cfg->cgroup_under : "",
                     sizeof(ctx->cgroup_under)) >= sizeof(ctx->cgroup_under)) {
        free(ctx);
        return moat_err_set(err, -ENAMETOOLONG, "the cgroup to make the boxes in is too long");
    }
    ctx->cfg.cgroup_under = ctx->cgroup_under;
    moat_strlcpy(ctx->cache_dir, cfg->cache_dir ? cfg->cache_dir : "", sizeof(ctx->cache_dir));
    ctx->cfg.run_dir = ctx->run_dir;
    ctx->cfg.cgroup_name = ctx->cgroup_name;
    ctx->cfg.cache_dir = ctx->cache_dir[0] ? ctx->cache_dir : NULL;
    moat_strlcpy(ctx->spawner_exe, cfg->spawner_exe ? cfg->spawner_exe : "",
                 sizeof(ctx->spawner_exe));
    ctx->cfg.spawner_exe = ctx->spawner_exe[0] ? ctx->spawner_exe : NULL;
    (void)snprintf(ctx->root_dir, sizeof(ctx->root_dir), "%s/root", ctx->run_dir);
    (void)snprintf(ctx->lease_dir, sizeof(ctx->lease_dir), "%s/uid", ctx->run_dir);
    ctx->owner = getpid();
    ctx->tmpl.nsfd = -1;
    /* Counted once: inside a box /sys is absent and sysconf would read
     * /proc/stat on every step. */
    cpu_set_t cpus;
    ctx->ncpu = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
    ctx->next_slot = (uint32_t)getpid() % cfg->uid_count;

    int r = mkdir_p(ctx->root_dir, 0755);
    if (r == 0)
        r = mkdir_p(ctx->lease_dir, 0700);
    if (r < 0) {
        moat_err_set(err, r, "create %s: %s", ctx->run_dir, strerror(-r));
        goto fail;
    }
    r = sbx_ctx_open_cgroups(ctx, err);
    if (r < 0)
        goto fail;
    r = sbx_seccomp_builtin(&ctx->filter);
    if (r < 0)
        goto fail;
    ctx->landlock_abi = cfg->landlock ? sbx_landlock_abi() : 0;
    /* The option switches the one threadgroup lock every move takes, v1
     * and v2 alike (on v2 the program is born in its group with
     * CLONE_INTO_CGROUP and moves nothing; box init's other moves do). */
    ctx->cg_fast_attach = sbx_probe_favordynmods("/proc/self/mountinfo");
    lease_sweep(ctx);
    *out = ctx;
    return 0;
fail:
    sbx_ctx_free(ctx);
    return r;
}

void sbx_ctx_free(struct sbx_ctx *ctx)
{
    if (!ctx)
        return;
    sbx_seccomp_release(&ctx->filter);
    mounts_template_release(&ctx->tmpl);
    /* The parent group goes with the last moat using it, so that nothing of
     * moat stays in the cgroup tree; another moat recreates it on demand. */
    if (ctx->cg && getpid() == ctx->owner)
        (void)cg_root_remove(ctx->cg, ctx->cgroup_name);
    cg_root_free(ctx->cg);
    free(ctx);
}
