/* E14: reading or writing another process's memory, or stealing its
 * descriptors, is refused: process_vm_readv/writev, kcmp, pidfd_getfd (also
 * on the program's own child), /proc/1/mem, /proc/1/exe. pidfd_open(1)
 * gives a descriptor but no power: signalling box init is refused. */
#include "hostile.h"
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

static char secret[64] = "the child's memory";

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t kid = spawn_pauser();
    char buf[64];
    struct iovec local = {buf, sizeof(buf)}, remote = {secret, sizeof(secret)};
    show("process_vm_readv pid 1", process_vm_readv(1, &local, 1, &remote, 1, 0));
    show("process_vm_readv own child", process_vm_readv(kid, &local, 1, &remote, 1, 0));
    show("process_vm_writev own child", process_vm_writev(kid, &local, 1, &remote, 1, 0));
    show("kcmp own child", syscall(SYS_kcmp, getpid(), kid, KCMP_FILE, 0, 0));
    show("open /proc/1/mem", open("/proc/1/mem", O_RDWR));
    show("open /proc/1/exe", open("/proc/1/exe", O_RDONLY));
    show("open /proc/1/exe for write", open("/proc/1/exe", O_WRONLY));
    int pfd = (int)syscall(SYS_pidfd_open, kid, 0);
    show("pidfd_getfd own child", pfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pfd, 1, 0));
    int one = (int)syscall(SYS_pidfd_open, 1, 0);
    show("pidfd_open 1", one);
    show("pidfd_send_signal 1 SIGKILL",
         one < 0 ? -1 : syscall(SYS_pidfd_send_signal, one, SIGKILL, NULL, 0));
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    return 0;
}
