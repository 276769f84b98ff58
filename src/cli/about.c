/*
 * What a server says of itself on GET /v1/version, in /metrics
 * (moat_build_info) and in its first log line: the build and the kernel
 * features its boxes use. Made once at start (the probe forks and reads
 * /proc; the answer is then a static string).
 */
#include <jansson.h>

#include "cli.h"
#include "moat/job.h"
#include "moat/sandbox.h"

char *cli_about_json(bool runs_boxes)
{
    const struct moat_build *b = moat_build_info();
    struct sbx_features f;
    sbx_probe(&f);
    json_t *kernel =
        json_pack("{s:s, s:i, s:b, s:b, s:i, s:b, s:b, s:b, s:b}", "release", f.kernel,
                  "cgroupVersion", f.cgroup_version, "userNamespaces", f.userns, "seccomp",
                  f.seccomp, "landlockAbi", f.landlock_abi, "timeNamespaces", f.timens, "pidfd",
                  f.pidfd, "cloneIntoCgroup", f.clone_into_cgroup, "kernelMemoryAccounting",
                  f.kmem_accounting);
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:o*}", "version", b->version, "commit", b->commit,
                          "variant", b->variant, "runsBoxes", runs_boxes, "kernel", kernel);
    if (!o)
        return NULL;
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    json_decref(o);
    return text;
}
