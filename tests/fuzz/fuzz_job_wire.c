/*
 * The job between nodes comes off the network (a queue message's body, a
 * final event's "job"): any bytes a broker hands over. The decoder must
 * refuse what is not the shape without a leak or a crash, and what it
 * accepts must encode and decode again to the same text (nothing is lost
 * or invented on the way).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/job.h"
#include "moat/util.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job j = {0};
    if (job_wire_decode((const char *)data, size, &j) < 0) {
        CHECK(j.files == NULL && j.id[0] == '\0'); /* untouched */
        return 0;
    }
    bool steps = j.compiled || j.run.verdict != JOB_VERDICT_NONE || j.run.out || j.run.err ||
                 j.compile.out || j.compile.err;
    char *once = NULL, *twice = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK(job_wire_encode(&j, steps, SIZE_MAX, &once, &n1) == 0);
    struct job k = {0};
    CHECK(job_wire_decode(once, n1, &k) == 0);
    CHECK(job_wire_encode(&k, steps, SIZE_MAX, &twice, &n2) == 0);
    CHECK(n1 == n2 && memcmp(once, twice, n1) == 0);
    free(once);
    free(twice);
    job_release(&j);
    job_release(&k);
    return 0;
}
