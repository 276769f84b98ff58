#pragma once
/*
 * notify internals: one delivery attempt (deliver.c), for the delivery
 * threads (notify.c) and the unit tests.
 */
#include <curl/curl.h>
#include <stdatomic.h>

#include "moat/notify.h"

/* What one attempt sends. Everything is borrowed for the call. */
struct notify_attempt {
    const char *url;
    const char *method; /* "POST", "PUT" */
    const char *ctype;  /* Content-Type */
    const char *body;
    size_t len;
    const char *signature; /* Moat-Signature's value, "" = none */
    const char *delivery;  /* Moat-Delivery's value: the job id */
    const struct notify_allow *al;
    uint64_t timeout_ms;
    size_t max_response;     /* bytes of the answer read */
    const atomic_bool *stop; /* when it turns true, the attempt ends at once */
};

/* How it ended. */
struct notify_result {
    enum notify_verdict verdict;
    long status;          /* the receiver's, 0 without an answer */
    bool has_retry_after; /* its Retry-After, as a wait */
    uint64_t retry_after_ms;
    char error[JOB_CALLBACK_ERROR_MAX + 1]; /* "" when delivered */
};

/*
 * Makes the attempt with easy handle h (reset first and after; one thread
 * at a time): checks the URL again, resolves and checks the host, sends,
 * reads the answer. 0 with *r filled (whatever the receiver did), -ENOMEM.
 * Blocks up to a->timeout_ms plus the DNS lookup.
 */
int notify_deliver_once(CURL *h, const struct notify_attempt *a, struct notify_result *r);
