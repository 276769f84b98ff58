/*
 * Capabilities of a box's program: none, and no way back to any.
 *
 * The program process starts with every capability of its new user
 * namespace. Dropping them takes an order: the bounding set and the
 * securebits first (both need CAP_SETPCAP), then the ambient set, then the
 * effective, permitted and inheritable sets last. The locked securebits make
 * uid 0 inside the namespace an ordinary uid for execve and setuid, so a
 * set-id or file-capability binary, or becoming root in the namespace,
 * grants nothing.
 *
 * Capabilities are per thread: call this in the single-threaded forked
 * child. libcap allocates in cap_init, which is fine there (never in the
 * child of a raw clone or vfork).
 */
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "sandbox-internal.h"

#define SBX_SECBITS                                                                                \
    (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                               \
     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |       \
     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

int sbx_drop_caps(void)
{
    /* Already-dropped bits are skipped, so that a second call (or a caller
     * that already lost CAP_SETPCAP after a first call) succeeds. */
    cap_value_t max = cap_max_bits();
    for (cap_value_t c = 0; c < max; c++) {
        int in_bound = cap_get_bound(c);
        if (in_bound < 0)
            continue; /* not supported by this kernel */
        if (in_bound > 0 && cap_drop_bound(c) < 0)
            return -errno;
    }
    unsigned cur = cap_get_secbits();
    if ((cur & SBX_SECBITS) != SBX_SECBITS && cap_set_secbits(cur | SBX_SECBITS) < 0)
        return -errno;
    /* Ambient capabilities would otherwise survive execve. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return -errno;
    cap_t empty = cap_init();
    if (!empty)
        return -ENOMEM;
    int r = cap_set_proc(empty) < 0 ? -errno : 0;
    (void)cap_free(empty);
    return r;
}
