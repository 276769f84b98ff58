/*
 * Requests that wait: a submission being written, a job to finish
 * (wait=true). exec keeps the watches and their deadlines; a request is
 * suspended before it asks, and exec's one notice per submission or watch
 * resumes it.
 */
#include "server-internal.h"

static enum api_resume_reason reason_of(enum exec_notice_kind k)
{
    switch (k) {
    case EXEC_ACCEPTED:
        return API_RESUME_ACCEPTED;
    case EXEC_REFUSED:
        return API_RESUME_REFUSED;
    case EXEC_FINAL:
        return API_RESUME_FINISHED;
    case EXEC_WAIT_OVER:
        return API_RESUME_DEADLINE;
    case EXEC_STOPPING:
        break;
    }
    return API_RESUME_SHUTDOWN;
}

void api_on_notice(void *cls, const struct exec_notice *n)
{
    struct api_req *rq = cls;
    if (n->kind == EXEC_REFUSED)
        rq->submit_error = n->error;
    /* Rendered here, from the job as it was recorded: the request answers
     * without reading it back (NULL: out of memory, or a job final
     * elsewhere; it reads the store). */
    if (n->kind == EXEC_FINAL && n->final && !rq->waited)
        rq->waited = api_job_render(rq->srv, rq->route->shape, n->final);
    api_req_resume(rq, reason_of(n->kind));
}

void api_wait_for_job(struct api_server *srv, struct api_req *rq)
{
    api_req_suspend(rq);
    /* not watched (final already, no such job, a store that cannot say):
     * the resumed request reads the job and answers what it finds */
    if (exec_watch(srv->deps.exec, rq->id, srv, api_on_notice, rq) != 0)
        api_req_resume(rq, API_RESUME_FINISHED);
}
