/*
 * The one check of a file name in /box, shared by box init (files it writes
 * and hands back), the host side (names box init hands back) and callers
 * checking user input before any box is used.
 *
 * Components of [A-Za-z0-9._$-]: '$' because the JVM's compilers name nested
 * and anonymous classes Outer$Inner.class and Main$1.class, which a compile
 * step must hand back whole to be cached. A name is never seen by a shell
 * (commands are argv templates) and never becomes a host path (the compile
 * cache stores artifacts under their index, the name only in its manifest).
 */
#include "moat/sandbox.h"

bool sbx_file_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || name[0] == '/' || name[len - 1] == '/')
        return false;
    const char *c = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            size_t n = (size_t)(p - c);
            if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                return false;
            if (*p == '\0')
                return true;
            c = p + 1;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' ||
                     *p == '$')) {
            return false;
        }
    }
}
