/* E13: ptrace in every form is refused, also on the program's own child
 * (which the kernel alone would allow: same uid, same namespace). */
#include "hostile.h"
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t kid = spawn_pauser();
    show("PTRACE_TRACEME", ptrace(PTRACE_TRACEME, 0, 0, 0));
    show("PTRACE_ATTACH parent", ptrace(PTRACE_ATTACH, getppid(), 0, 0));
    show("PTRACE_ATTACH pid 1", ptrace(PTRACE_ATTACH, 1, 0, 0));
    show("PTRACE_ATTACH own child", ptrace(PTRACE_ATTACH, kid, 0, 0));
    show("PTRACE_SEIZE own child", ptrace(PTRACE_SEIZE, kid, 0, 0));
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    return 0;
}
