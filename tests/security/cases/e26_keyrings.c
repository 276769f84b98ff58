/* E26: the kernel keyrings are not namespaced (data would survive the job
 * and cross boxes): add_key, keyctl and request_key answer ENOSYS. */
#include "hostile.h"
#include <sys/syscall.h>

#define KEY_SPEC_USER_KEYRING -4
#define KEY_SPEC_SESSION_KEYRING -3
#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_JOIN_SESSION_KEYRING 1

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    show("add_key user",
         syscall(SYS_add_key, "user", "moat-sec", "payload", 7, KEY_SPEC_USER_KEYRING));
    show("request_key user",
         syscall(SYS_request_key, "user", "moat-sec", NULL, KEY_SPEC_USER_KEYRING));
    show("keyctl GET_KEYRING_ID",
         syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    show("keyctl JOIN_SESSION_KEYRING",
         syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "moat-sec"));
    return 0;
}
