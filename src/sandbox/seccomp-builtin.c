/* The policy compiled at build time (gen/seccomp-gen.c). */
#include "sandbox-internal.h"

int sbx_seccomp_builtin(struct sbx_filter *out)
{
    size_t bytes = sizeof(sbx_seccomp_builtin_insns[0]) * sbx_seccomp_builtin_len;
    out->insns = malloc(bytes);
    if (!out->insns)
        return -ENOMEM;
    memcpy(out->insns, sbx_seccomp_builtin_insns, bytes);
    out->len = sbx_seccomp_builtin_len;
    return 0;
}
