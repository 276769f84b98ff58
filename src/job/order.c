/*
 * The streams of a step in the order the program wrote them. The order is
 * a list of (stream, byte count) entries recorded by the sandbox's
 * supervisor as it read the two pipes; it is trusted no further than the
 * bytes the step holds: an entry never takes more of a stream than is
 * left, and what no entry covers comes after, so any order (none, cut
 * short, from a step whose streams were clipped for rendering) gives
 * exactly out_len + err_len bytes.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "moat/job.h"
#include "moat/util.h"

int job_step_interleave(const struct job_step *s, char **out, size_t *len)
{
    size_t total;
    if (!size_add(s->out_len, s->err_len, &total))
        return -EOVERFLOW;
    char *b = malloc(total ? total : 1);
    if (!b)
        return -ENOMEM;
    size_t at = 0, used[2] = {0, 0};
    const char *const data[2] = {s->out, s->err};
    const size_t have[2] = {s->out_len, s->err_len};
    for (size_t i = 0; s->order && i + 4 <= s->order_len; i += 4) {
        uint32_t e;
        memcpy(&e, s->order + i, 4);
        e = le32toh(e);
        int k = (e & JOB_ORDER_STDERR) ? 1 : 0;
        size_t n = e & ~JOB_ORDER_STDERR;
        if (n > have[k] - used[k])
            n = have[k] - used[k];
        if (n)
            memcpy(b + at, data[k] + used[k], n);
        at += n;
        used[k] += n;
    }
    for (int k = 0; k < 2; k++) {
        size_t n = have[k] - used[k];
        if (n)
            memcpy(b + at, data[k] + used[k], n);
        at += n;
    }
    *out = b;
    *len = at;
    return 0;
}
