/*
 * The code of the source policy checkers (the files of checkers/), built into moat
 * by cmake/embed.cmake: a box gets it as a file whatever is installed where.
 * The rules each knows are policy.c's.
 */
#include "lang-internal.h"

extern const unsigned char moat_checker_python[], moat_checker_c[];
extern const size_t moat_checker_python_len, moat_checker_c_len;

const char *lang_checker_source(const char *name, size_t *len)
{
    static const struct {
        const char *name;
        const unsigned char *code;
        const size_t *len;
    } code[] = {
        {"python", moat_checker_python, &moat_checker_python_len},
        {"c", moat_checker_c, &moat_checker_c_len},
    };
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(code); i++) {
        if (strcmp(code[i].name, name) == 0) {
            if (len)
                *len = *code[i].len;
            return (const char *)code[i].code;
        }
    }
    return NULL;
}
