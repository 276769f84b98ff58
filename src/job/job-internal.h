#pragma once
/*
 * The job module's JSON pieces shared by wire.c (the job between nodes)
 * and tests.c (a job's test cases, in the store and between nodes): every
 * byte field as base64, decoders that refuse anything but the shape.
 */
#include "moat/job.h"

/* ---- encoding: each returns a new reference, NULL on ENOMEM ---- */
json_t *jw_u64(uint64_t v);
json_t *jw_b64(const char *data, size_t len);
json_t *jw_text(const char *s); /* null for NULL */
json_t *jw_strv_json(char *const *v, size_t n);
json_t *jw_step_json(const struct job_step *s);
/* Steals v; false when v is NULL or the set failed. */
bool jw_put(json_t *o, const char *key, json_t *v);

/* ---- decoding: 0, -EINVAL (not the shape), -ENOMEM ---- */
int jw_unb64(json_t *v, char **data, size_t *len);
int jw_untext(json_t *v, char **out);
int jw_strv_from(json_t *a, char ***v, size_t *n);
int jw_int_in(json_t *v, json_int_t lo, json_int_t hi, json_int_t *out);
int jw_step_from(json_t *o, struct job_step *s);
