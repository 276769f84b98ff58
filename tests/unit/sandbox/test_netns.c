/*
 * The pool's check of a network namespace before it serves another box
 * (netns.c): a new namespace passes; one that holds a socket of any kind
 * (TCP in TIME_WAIT, UDP, unix with an abstract name, netlink), a
 * loopback brought up or a sysctl written does not, and one whose sockets
 * are all closed passes again. The dirt is made from the host side, with
 * privileges no box has: what a box cannot do must still be caught.
 *
 * Needs root (setns, unshare); returns 77 (skipped) without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "box-host.h"
#include "sbx_test.h"

struct fx {
    int home;
    struct buf base; /* a new namespace's view */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(f->home >= 0);
    buf_init(&f->base, 1 << 20);
    int ns = netns_make(f->home);
    assert_true(ns >= 0);
    assert_int_equal(netns_view(f->home, ns, &f->base), 0);
    (void)close(ns);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    buf_release(&f->base);
    (void)close(f->home);
    free(f);
    return 0;
}

static void enter(int ns)
{
    assert_int_equal(setns(ns, CLONE_NEWNET), 0);
}

static void leave(const struct fx *f)
{
    assert_int_equal(setns(f->home, CLONE_NEWNET), 0);
}

static void lo_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct ifreq ifr = {0};
    (void)moat_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
    assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    (void)close(s);
}

static void test_new_is_clean(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++) {
        int ns = netns_make(f->home);
        assert_true(ns >= 0);
        assert_int_equal(netns_check(f->home, ns, &f->base), 0);
        (void)close(ns);
    }
}

static void test_loopback_up(void **state)
{
    struct fx *f = *state;
    int ns = netns_make(f->home);
    enter(ns);
    lo_up();
    leave(f);
    assert_int_equal(netns_check(f->home, ns, &f->base), -EBUSY);
    (void)close(ns);
}

/* A connection closed by the client leaves it in TIME_WAIT, with no file
 * left: the namespace's own view must still differ from what it showed
 * before the connection (and show tw 1). */
static void test_time_wait(void **state)
{
    struct fx *f = *state;
    int ns = netns_make(f->home);
    enter(ns);
    lo_up();
    leave(f);
    struct buf before;
    buf_init(&before, 1 << 20);
    assert_int_equal(netns_view(f->home, ns, &before), 0);
    enter(ns);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    assert_true(s >= 0);
    (void)close(c); /* the active closer goes to TIME_WAIT */
    (void)close(s);
    (void)close(l);
    leave(f);
    struct buf now;
    buf_init(&now, 1 << 20);
    assert_int_equal(netns_view(f->home, ns, &now), 0);
    assert_int_equal(buf_terminate(&now), 0);
    assert_non_null(strstr(now.data, " tw 1 "));
    assert_int_equal(netns_check(f->home, ns, &before), -EBUSY);
    buf_release(&now);
    buf_release(&before);
    (void)close(ns);
}

/* A socket held open fails the check; once closed (and nothing else
 * changed) the namespace reads as new again, where the kernel frees the
 * socket at once (clean_after: not netlink, whose release waits for an
 * RCU grace period; reading it busy a while longer only costs a reuse). */
static void held_socket(struct fx *f, int family, int type, int proto, bool bind_it,
                        bool clean_after)
{
    int ns = netns_make(f->home);
    enter(ns);
    int s = socket(family, type | SOCK_CLOEXEC, proto);
    assert_true(s >= 0);
    if (bind_it && family == AF_UNIX) {
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        memcpy(un.sun_path, "\0moat-ut-netns", 14);
        assert_int_equal(
            bind(s, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 14)),
            0);
    } else if (bind_it) {
        struct sockaddr_in in = {.sin_family = AF_INET};
        assert_int_equal(bind(s, (struct sockaddr *)&in, sizeof(in)), 0);
    }
    leave(f);
    assert_int_equal(netns_check(f->home, ns, &f->base), -EBUSY);
    (void)close(s);
    if (clean_after)
        assert_int_equal(netns_check(f->home, ns, &f->base), 0);
    (void)close(ns);
}

static void test_abstract_unix(void **state)
{
    held_socket(*state, AF_UNIX, SOCK_DGRAM, 0, true, true);
}

static void test_unnamed_unix(void **state)
{
    held_socket(*state, AF_UNIX, SOCK_STREAM, 0, false, true);
}

static void test_udp(void **state)
{
    held_socket(*state, AF_INET, SOCK_DGRAM, 0, true, true);
}

static void test_netlink(void **state)
{
    held_socket(*state, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, false, false);
}

static void test_sysctl(void **state)
{
    struct fx *f = *state;
    int ns = netns_make(f->home);
    enter(ns);
    assert_int_equal(write_file_at(AT_FDCWD, "/proc/sys/net/core/somaxconn", "17"), 0);
    leave(f);
    assert_int_equal(netns_check(f->home, ns, &f->base), -EBUSY);
    (void)close(ns);
}

int main(void)
{
    if (!moat_test_have_root("network namespaces"))
        return MOAT_TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_is_clean), cmocka_unit_test(test_loopback_up),
        cmocka_unit_test(test_time_wait),    cmocka_unit_test(test_abstract_unix),
        cmocka_unit_test(test_unnamed_unix), cmocka_unit_test(test_udp),
        cmocka_unit_test(test_netlink),      cmocka_unit_test(test_sysctl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
