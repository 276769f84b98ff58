/*
 * What a binary says it is: the version (CMake's project()), the commit it
 * was built from and the variant of its flags. The commit comes from a
 * header the build rewrites only when it changes (cmake/build-info.cmake).
 */
#include "moat-build-info.h"
#include "moat/util.h"

#ifndef MOAT_VARIANT
#define MOAT_VARIANT "unknown"
#endif

const struct moat_build *moat_build_info(void)
{
    static const struct moat_build b = {
        .version = MOAT_VERSION,
        .commit = MOAT_COMMIT,
        .variant = MOAT_VARIANT,
    };
    return &b;
}
