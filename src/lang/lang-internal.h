#pragma once
/*
 * Private pieces of the lang module shared between its files: template
 * walking (template.c), host commands (host.c) and the registry (registry.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "moat/lang.h"
#include "moat/util.h"

/* Placeholders, as a bit set of what a template may use. */
enum lang_ph {
    LANG_PH_MAIN = 1 << 0,
    LANG_PH_FILES = 1 << 1,
    LANG_PH_CLASS = 1 << 2,
    LANG_PH_MEMORY = 1 << 3,
    LANG_PH_CACHE = 1 << 4,
    LANG_PH_OUTPUT = 1 << 5,
};
/* What a compile or run step may use. */
#define LANG_PH_STEP (LANG_PH_MAIN | LANG_PH_FILES | LANG_PH_CLASS | LANG_PH_MEMORY | LANG_PH_CACHE)

/* Whether name is one of the built-in checkers (policy.c). */
bool lang_checker_known(const char *name);

/* lang_at for the loaders that complete a registry before it is shared
 * (policy.c). */
struct lang *lang_at_mut(struct lang_registry *reg, size_t i);

/* Whether c is one of the ASCII whitespace characters that separate words. */
static inline int lang_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Checks a template at load time: every placeholder known and in `allowed`,
 * {files} only as a whole word, at most LANG_MAX_ARGV words ({files} counted
 * as one). On success *used is the set of placeholders present and *nwords
 * the word count. -EINVAL with err (message without a line number).
 */
int lang_template_check(const char *tmpl, unsigned allowed, unsigned *used, size_t *nwords,
                        struct moat_err *err);

/* lang_expand with a restricted placeholder set (lang_expand allows every
 * step placeholder and {output}). */
int lang_expand_allowed(const char *tmpl, const struct lang_vars *vars, unsigned allowed,
                        char ***argv_out, char **storage, struct moat_err *err);

/* The first word of tmpl into out (NUL-terminated); -ENAMETOOLONG, -EINVAL
 * when there is none. */
int lang_first_word(const char *tmpl, char *out, size_t outsz);

/* Java rule: the class name the entry file must carry (see lang_entry_name).
 * Writes at most outsz-1 bytes; -ENAMETOOLONG, -EINVAL for names outside
 * [A-Za-z0-9_]. */
int lang_java_class(const char *code, size_t len, char *out, size_t outsz, struct moat_err *err);

/*
 * Runs a trusted host command: fork + execve(argv[0]) with envp
 * {PATH=/usr/bin:/bin}, stdin /dev/null, stdout and stderr into one pipe of
 * which the first cap-1 bytes land in out (NUL-terminated; the rest is read
 * and dropped), in its own process group, killed (the whole group) after
 * timeout_ms. Returns 0 when it exited 0, -ETIMEDOUT, -EIO for another exit
 * (err says how), -errno when it could not start. *outlen = bytes kept.
 */
int lang_host_run(char *const *argv, uint64_t timeout_ms, char *out, size_t cap, size_t *outlen,
                  struct moat_err *err);
