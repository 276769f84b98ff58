#pragma once
/*
 * The settings table and what reads it. One row per setting: where it lives
 * in moat.ini, the environment and the command line, its type and range, its
 * default and the field of struct moat_config it fills. Everything else in
 * src/config (parsing, validation, --help, the generated documentation) walks
 * this table, so a setting added here is complete.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include "moat/config.h"
#include "moat/util.h"

enum config_type {
    CONFIG_U64,
    CONFIG_BOOL,
    CONFIG_STRING,
};

/* Extra rules for string values beyond "fits the field, no control bytes". */
enum config_text_rule {
    CONFIG_TEXT_ANY, /* may be empty */
    CONFIG_TEXT_NONEMPTY,
    CONFIG_TEXT_ABS_PATH,  /* starts with '/', no ".." component */
    CONFIG_TEXT_NAME,      /* [A-Za-z0-9_-]+: becomes a directory name */
    CONFIG_TEXT_HOST_PORT, /* HOST:PORT, PORT 0..65535 */
    CONFIG_TEXT_CHOICE,    /* one of choices[] */
    CONFIG_TEXT_CGROUP,    /* "", "self" or CONFIG_TEXT_ABS_PATH */
};

struct config_setting {
    const char *section; /* ini section: "limits" */
    const char *name;    /* ini key within it: "time_ms" */
    const char *key;     /* section.name: "limits.time_ms" */
    const char *env;     /* "MOAT_TIME_LIMIT" */
    const char *flag;    /* "time-limit" (without dashes) */
    enum config_type type;
    size_t offset;        /* into struct moat_config */
    size_t size;          /* of that field (strings: including the NUL) */
    uint64_t min, max;    /* CONFIG_U64 */
    uint64_t def;         /* CONFIG_U64 and CONFIG_BOOL */
    const char *def_text; /* CONFIG_STRING */
    enum config_text_rule rule;
    const char *const *choices; /* CONFIG_TEXT_CHOICE, NULL-terminated */
    unsigned scope;             /* enum config_scope bits */
    const char *api_field;      /* [limits] rows: the request field ("timeoutMs") */
    const char *description;    /* one line, lowercase, no period */
};

struct config_section {
    const char *name;  /* "limits" */
    const char *title; /* one line for --help and the documentation */
    const char *notes; /* a paragraph for the documentation, "" for none */
};

/* Upper bound on the table's length, for per-setting arrays on the stack. */
#define CONFIG_MAX_SETTINGS 128

extern const struct config_setting config_settings[];
extern const size_t config_n_settings;
extern const struct config_section config_sections[];
extern const size_t config_n_sections;

/* Lookups in the table; NULL when unknown. */
const struct config_setting *config_find_key(const char *section, const char *name);
const struct config_setting *config_find_name(const char *flag_or_key);
const struct config_setting *config_find_env(const char *env, size_t len);
const struct config_section *config_find_section(const char *name);

/*
 * Parses value for setting s and stores it in cfg. origin says where the value
 * came from for the message ("moat.ini:3", "MOAT_TIME_LIMIT", "--time-limit").
 * cfg is unchanged on failure. -EINVAL, -ERANGE.
 */
int config_setting_apply(const struct config_setting *s, struct moat_config *cfg, const char *value,
                         const char *origin, struct moat_err *err);

/* The value of a CONFIG_U64 setting in cfg. */
uint64_t config_setting_u64(const struct config_setting *s, const struct moat_config *cfg);

/* Checks the value s holds in cfg against its own range and rule. */
int config_setting_check(const struct config_setting *s, const struct moat_config *cfg,
                         struct moat_err *err);

/* Formats the default of s ("3000", "true", "/run/moat", "" as "\"\""). */
void config_format_default(const struct config_setting *s, char *out, size_t outsz);
/* Formats the accepted values of s ("1..600000", "error|warn|info|debug"). */
void config_format_range(const struct config_setting *s, char *out, size_t outsz);
