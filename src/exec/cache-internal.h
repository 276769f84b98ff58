#pragma once
/*
 * The compile cache inside the exec module: what program.c (and the cache's
 * tests) use beside the public exec_cache_open/free/stats.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/exec.h"
#include "moat/sandbox.h"
#include "moat/util.h"

#define EXEC_CACHE_KEY_LEN MOAT_SHA256_HEX_LEN
/* Most bytes of artifacts one entry holds (less when the cache is smaller). */
#define EXEC_CACHE_ENTRY_MAX ((uint64_t)64 << 20)

/* What a compile step's output depends on. All borrowed. */
struct exec_cache_input {
    const char *lang;        /* language name */
    const char *version;     /* its version on this host */
    const char *const *argv; /* the expanded compile command */
    const char *const *envp; /* the step's environment */
    const struct sbx_file *files;
    size_t nfiles;
};

/* SHA-256 (lowercase hex) over every part of in, each length-prefixed, so
 * that no two different inputs give the same byte stream. -ENOMEM. */
int exec_cache_key(const struct exec_cache_input *in, char key[EXEC_CACHE_KEY_LEN + 1]);

/* The artifacts of one entry, as files for a step; owns their storage. */
struct exec_cache_hit {
    struct sbx_file *files;
    size_t nfiles;
    char *storage; /* names and contents */
};
void exec_cache_hit_release(struct exec_cache_hit *h);

/* Looks key up: 1 and *hit filled (caller releases) on a hit; 0 on a miss,
 * also when the entry on disk is damaged or tampered with (it is dropped).
 * Thread-safe. */
int exec_cache_get(struct exec_cache *c, const char *key, struct exec_cache_hit *hit);

/* Forgets the entry a hit just returned and removes its files: its
 * artifacts cannot be used (they collide with the sources). The hit
 * becomes a miss. Thread-safe. */
void exec_cache_drop(struct exec_cache *c, const char *key);

/* Stores the artifacts of a compile step under key (borrowed), evicting
 * the least recently used entries beyond the cache's bound. Nothing is
 * stored (0) when the entry exists already or is too large; -errno on an
 * I/O failure (the cache stays consistent). Thread-safe. */
int exec_cache_put(struct exec_cache *c, const char *key, const struct sbx_collected *files,
                   size_t nfiles);

/* The most artifact bytes one entry may hold (for sbx_step.collect_max_bytes). */
uint64_t exec_cache_entry_max(const struct exec_cache *c);
