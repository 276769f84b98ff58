/* Step results: lifecycle and names. */
#include "box-internal.h"

void sbx_result_init(struct sbx_result *r)
{
    *r = (struct sbx_result){0};
    /* The host side receives at most two streams of the configured maximum;
     * the box side enforces the per-step limit itself. */
    buf_init(&r->out, WIRE_MAX_PAYLOAD);
    buf_init(&r->err, WIRE_MAX_PAYLOAD);
    buf_init(&r->order, (size_t)SBX_ORDER_MAX * 4);
}

void sbx_result_release(struct sbx_result *r)
{
    buf_release(&r->out);
    buf_release(&r->err);
    buf_release(&r->order);
    for (size_t i = 0; i < r->ncollected; i++) {
        free(r->collected[i].name);
        free(r->collected[i].data);
    }
    free(r->collected);
    r->collected = NULL;
    r->ncollected = 0;
    r->collect_overflow = false;
    r->collect_skipped = false;
}

const char *sbx_verdict_name(enum sbx_verdict v)
{
    static const char *const names[] = {
        [SBX_VERDICT_OK] = "ok",
        [SBX_VERDICT_RUNTIME_ERROR] = "runtime_error",
        [SBX_VERDICT_TIME_LIMIT] = "time_limit",
        [SBX_VERDICT_MEMORY_LIMIT] = "memory_limit",
        [SBX_VERDICT_OUTPUT_LIMIT] = "output_limit",
        [SBX_VERDICT_CANCELLED] = "cancelled",
        [SBX_VERDICT_INTERNAL_ERROR] = "internal_error",
    };
    return (unsigned)v < MOAT_ARRAY_SIZE(names) && names[v] ? names[v] : "internal_error";
}
