#pragma once
/* Shared by the libFuzzer targets: a check that stays on in every build and
 * makes the fuzzer report the input that broke it. */
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (void)fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__);                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
