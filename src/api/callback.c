/*
 * What the API gives webhook delivery: the body of a native delivery, the
 * same JSON as GET /v1/jobs/{id}, so a receiver parses one shape whether
 * it polls or is called.
 */
#include "api-internal.h"
#include "moat/api.h"

int api_callback_render_native(void *cls, const struct job *j, char **body, size_t *len)
{
    const struct moat_config *cfg = cls;
    struct job view = api_job_clipped(j, (size_t)(cfg->max_inline_output_kb << 10));
    json_t *o = api_job_json(&view); /* new reference */
    if (!o)
        return -ENOMEM;
    char *text = json_dumps(o, JOB_JSON_DUMP_FLAGS);
    json_decref(o);
    if (!text)
        return -ENOMEM;
    *body = text;
    *len = strlen(text);
    return 0;
}
