/*
 * Requests waiting for a job to finish (wait=true): suspended, listed here
 * until the executor says the job is final, their deadline (max_wait_ms)
 * passes, or the server stops. A list is enough: it holds the requests of
 * clients that wait, a few hundred at most, and a finished job scans it
 * once.
 */
#include <time.h>

#include "server-internal.h"

static void unlink_waiter(struct api_server *srv, struct api_req *rq)
{
    if (rq->wprev)
        rq->wprev->wnext = rq->wnext;
    else
        srv->waiters = rq->wnext;
    if (rq->wnext)
        rq->wnext->wprev = rq->wprev;
    rq->wprev = rq->wnext = NULL;
    rq->waiting = false;
}

void api_wait_add(struct api_server *srv, struct api_req *rq)
{
    pthread_mutex_lock(&srv->wait_mu);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->wait_mu);
        api_req_resume(rq, API_RESUME_SHUTDOWN);
        return;
    }
    rq->wprev = NULL;
    rq->wnext = srv->waiters;
    if (srv->waiters)
        srv->waiters->wprev = rq;
    srv->waiters = rq;
    rq->waiting = true;
    pthread_cond_signal(&srv->wait_cond);
    pthread_mutex_unlock(&srv->wait_mu);
}

bool api_wait_remove(struct api_server *srv, struct api_req *rq)
{
    pthread_mutex_lock(&srv->wait_mu);
    bool was = rq->waiting;
    if (was)
        unlink_waiter(srv, rq);
    pthread_mutex_unlock(&srv->wait_mu);
    return was;
}

void api_job_finished(void *cls, const char *id, const struct job *final)
{
    struct api_server *srv = cls;
    if (!srv)
        return;
    /* Taken off the list under the lock; answered outside it (rendering a
     * large output takes a while). Once unlinked, nobody else resumes a
     * waiter, and a suspended request is not freed until resumed. */
    struct api_req *mine = NULL;
    pthread_mutex_lock(&srv->wait_mu);
    struct api_req *rq = srv->waiters;
    while (rq) {
        struct api_req *next = rq->wnext;
        if (strcmp(rq->id, id) == 0) {
            unlink_waiter(srv, rq);
            rq->wnext = mine;
            mine = rq;
        }
        rq = next;
    }
    pthread_mutex_unlock(&srv->wait_mu);
    while (mine) {
        rq = mine;
        mine = rq->wnext;
        rq->wnext = NULL;
        /* Rendered here, from the job as it was recorded: the waiter
         * answers without reading it back (NULL: out of memory, or no
         * final job given; it reads the store). */
        if (final && !rq->waited)
            rq->waited = api_job_render(srv, rq->route->shape, final);
        api_req_resume(rq, API_RESUME_FINISHED);
    }
}

/* Resumes the waiters whose deadline passed; sleeps until the next one. */
static void *deadline_main(void *arg)
{
    struct api_server *srv = arg;
    pthread_mutex_lock(&srv->wait_mu);
    while (!srv->stopping) {
        uint64_t now = moat_now_ns();
        uint64_t next = now + 1000000000ULL;
        struct api_req *rq = srv->waiters;
        while (rq) {
            struct api_req *n = rq->wnext;
            if (rq->deadline_ns <= now) {
                unlink_waiter(srv, rq);
                api_req_resume(rq, API_RESUME_DEADLINE);
            } else if (rq->deadline_ns < next) {
                next = rq->deadline_ns;
            }
            rq = n;
        }
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ULL),
                              .tv_nsec = (long)(next % 1000000000ULL)};
        (void)pthread_cond_timedwait(&srv->wait_cond, &srv->wait_mu, &ts);
    }
    while (srv->waiters) {
        struct api_req *rq = srv->waiters;
        unlink_waiter(srv, rq);
        api_req_resume(rq, API_RESUME_SHUTDOWN);
    }
    pthread_mutex_unlock(&srv->wait_mu);
    return NULL;
}

int api_wait_start(struct api_server *srv)
{
    int r = pthread_create(&srv->deadline_thread, NULL, deadline_main, srv);
    if (r != 0)
        return -r;
    srv->deadline_started = true;
    return 0;
}

void api_wait_stop(struct api_server *srv)
{
    if (!srv->deadline_started)
        return;
    pthread_mutex_lock(&srv->wait_mu);
    srv->stopping = true;
    pthread_cond_signal(&srv->wait_cond);
    pthread_mutex_unlock(&srv->wait_mu);
    pthread_join(srv->deadline_thread, NULL);
    srv->deadline_started = false;
}
