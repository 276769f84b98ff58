/*
 * job: the step model, verdict names, signal names and the sentences a
 * person reads. Pure: tables and formatting only, no I/O, no state.
 */
#include <signal.h>

#include "moat/job.h"
#include "moat/util.h"

void job_step_release(struct job_step *s)
{
    if (!s)
        return;
    free(s->out);
    free(s->err);
    free(s->order);
    *s = (struct job_step){0};
}

/* Indexed by enum job_verdict; the names are the wire format of the API and
 * the store, so they never change once published. */
static const char *const verdict_names[JOB_VERDICT_MAX_] = {
    [JOB_VERDICT_NONE] = NULL,
    [JOB_VERDICT_OK] = "ok",
    [JOB_VERDICT_RUNTIME_ERROR] = "runtime_error",
    [JOB_VERDICT_TIME_LIMIT] = "time_limit",
    [JOB_VERDICT_MEMORY_LIMIT] = "memory_limit",
    [JOB_VERDICT_OUTPUT_LIMIT] = "output_limit",
    [JOB_VERDICT_COMPILE_ERROR] = "compile_error",
    [JOB_VERDICT_INTERNAL_ERROR] = "internal_error",
    [JOB_VERDICT_CANCELLED] = "cancelled",
    [JOB_VERDICT_WRONG_ANSWER] = "wrong_answer",
    [JOB_VERDICT_ACCEPTED] = "accepted",
    [JOB_VERDICT_SKIPPED] = "skipped",
    [JOB_VERDICT_POLICY_VIOLATION] = "policy_violation",
};

const char *job_verdict_name(enum job_verdict v)
{
    /* The enum may hold any int read back from a store row: range-check. */
    if ((unsigned)v >= (unsigned)JOB_VERDICT_MAX_)
        return NULL;
    return verdict_names[v];
}

int job_verdict_parse(const char *name, enum job_verdict *out)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < MOAT_ARRAY_SIZE(verdict_names); i++) {
        if (verdict_names[i] && strcmp(verdict_names[i], name) == 0) {
            *out = (enum job_verdict)i;
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * Linux signal numbers, 1..64 (_NSIG is 65 on every Linux ABI moat runs on).
 * The numbers 1..31 are those of x86_64 (and of every architecture with the
 * generic signal layout); the static asserts catch a port to one that
 * differs. 32 and 33 are taken by glibc for thread cancellation and setxid
 * and have no name. Realtime signals are named from glibc's SIGRTMIN (34),
 * as kill -l does. A table, not strsignal or sigabbrev_np: the first gives
 * localized prose, and both depend on the C library of the host, while
 * these names are part of the API.
 */
_Static_assert(SIGSEGV == 11 && SIGSTKFLT == 16 && SIGSYS == 31, "x86_64 signal numbers");
#define JOB_SIG_MAX 64
static const char *const signal_names[JOB_SIG_MAX + 1] = {
    [0] = "SIG0",          [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",
    [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP",
    [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",
    [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV",
    [SIGUSR2] = "SIGUSR2", [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM",
    [SIGTERM] = "SIGTERM", [SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",
    [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP",     [SIGTSTP] = "SIGTSTP",
    [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",     [SIGURG] = "SIGURG",
    [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",     [SIGVTALRM] = "SIGVTALRM",
    [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",   [SIGIO] = "SIGIO",
    [SIGPWR] = "SIGPWR",   [SIGSYS] = "SIGSYS",       [32] = "SIG32",
    [33] = "SIG33",        [34] = "SIGRTMIN",         [35] = "SIGRTMIN+1",
    [36] = "SIGRTMIN+2",   [37] = "SIGRTMIN+3",       [38] = "SIGRTMIN+4",
    [39] = "SIGRTMIN+5",   [40] = "SIGRTMIN+6",       [41] = "SIGRTMIN+7",
    [42] = "SIGRTMIN+8",   [43] = "SIGRTMIN+9",       [44] = "SIGRTMIN+10",
    [45] = "SIGRTMIN+11",  [46] = "SIGRTMIN+12",      [47] = "SIGRTMIN+13",
    [48] = "SIGRTMIN+14",  [49] = "SIGRTMIN+15",      [50] = "SIGRTMIN+16",
    [51] = "SIGRTMIN+17",  [52] = "SIGRTMIN+18",      [53] = "SIGRTMIN+19",
    [54] = "SIGRTMIN+20",  [55] = "SIGRTMIN+21",      [56] = "SIGRTMIN+22",
    [57] = "SIGRTMIN+23",  [58] = "SIGRTMIN+24",      [59] = "SIGRTMIN+25",
    [60] = "SIGRTMIN+26",  [61] = "SIGRTMIN+27",      [62] = "SIGRTMIN+28",
    [63] = "SIGRTMIN+29",  [64] = "SIGRTMIN+30",
};

const char *job_signal_name(int sig)
{
    if (sig < 0 || sig > JOB_SIG_MAX)
        return "SIGUNKNOWN";
    return signal_names[sig];
}

/* Short words for the signals a program dies of by itself; the others are
 * named only (a user who sends SIGUSR1 to itself knows what it did). */
static const char *signal_description(int sig)
{
    switch (sig) {
    case SIGSEGV:
        return "segmentation fault";
    case SIGABRT:
        return "aborted";
    case SIGFPE:
        return "arithmetic error, such as division by zero";
    case SIGBUS:
        return "bus error";
    case SIGILL:
        return "illegal instruction";
    case SIGKILL:
        return "killed";
    case SIGTERM:
        return "terminated";
    case SIGPIPE:
        return "broken pipe";
    case SIGSYS:
        return "system call not allowed";
    case SIGXFSZ:
        return "file size limit exceeded";
    case SIGXCPU:
        /* not moat's limit, which is time_limit: RLIMIT_CPU the program set
         * itself, or a signal it sent */
        return "CPU time limit signal";
    case SIGTRAP:
        return "trace trap";
    case SIGALRM:
        return "alarm clock";
    case SIGHUP:
        return "hangup";
    case SIGINT:
        return "interrupted";
    case SIGQUIT:
        return "quit";
    default:
        return NULL;
    }
}

static const char *runtime_error_sentence(const struct job_step *s, char *buf, size_t bufsz)
{
    if (!buf || bufsz == 0)
        return "Runtime Error";
    /* A program that could not even start says why ("cannot execute
     * ./main: ..."); message is filled by other modules: bounded here. */
    int n = (int)strnlen(s->message, sizeof(s->message));
    if (n > 0) {
        (void)snprintf(buf, bufsz, "Runtime Error (%.*s)", n, s->message);
    } else if (s->signal > 0) {
        const char *why = signal_description(s->signal);
        if (why)
            (void)snprintf(buf, bufsz, "Runtime Error (%s: %s)", job_signal_name(s->signal), why);
        else
            (void)snprintf(buf, bufsz, "Runtime Error (%s)", job_signal_name(s->signal));
    } else {
        (void)snprintf(buf, bufsz, "Runtime Error (exit code %d)", s->exit_code);
    }
    return buf;
}

/* head, then " (message)" when the step has one. */
static const char *sentence_with_message(const char *head, const struct job_step *s, char *buf,
                                         size_t bufsz)
{
    /* message is filled by other modules: never trust it to be terminated. */
    int n = (int)strnlen(s->message, sizeof(s->message));
    if (!buf || bufsz == 0 || n == 0)
        return head;
    (void)snprintf(buf, bufsz, "%s (%.*s)", head, n, s->message);
    return buf;
}

const char *job_error_sentence(const struct job_step *s, char *buf, size_t bufsz)
{
    switch (s->verdict) {
    case JOB_VERDICT_NONE:
    case JOB_VERDICT_OK:
        return NULL;
    case JOB_VERDICT_RUNTIME_ERROR:
        return runtime_error_sentence(s, buf, bufsz);
    case JOB_VERDICT_TIME_LIMIT:
        return "Time Limit Exceeded (program ran too long)";
    case JOB_VERDICT_MEMORY_LIMIT:
        return "Memory Limit Exceeded (program used too much memory)";
    case JOB_VERDICT_OUTPUT_LIMIT:
        return "Output Limit Exceeded (program printed too much)";
    case JOB_VERDICT_COMPILE_ERROR:
        return "Compilation Error";
    case JOB_VERDICT_INTERNAL_ERROR:
        return sentence_with_message("Internal Error", s, buf, bufsz);
    case JOB_VERDICT_CANCELLED:
        return "Cancelled";
    case JOB_VERDICT_WRONG_ANSWER:
        return "Wrong Answer (the output is not the one expected)";
    case JOB_VERDICT_ACCEPTED:
        return NULL;
    case JOB_VERDICT_SKIPPED:
        return "Skipped (an earlier test failed)";
    case JOB_VERDICT_POLICY_VIOLATION:
        return sentence_with_message("Policy Violation", s, buf, bufsz);
    case JOB_VERDICT_MAX_:
        break;
    }
    /* Out-of-range values read back from storage: say so rather than guess. */
    return "Internal Error (unknown verdict)";
}
