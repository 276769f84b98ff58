/* E21: no network: sockets of any internet family are refused before a
 * connect can be tried, and name resolution fails. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void connect_to(const char *label, int type, const char *ip, int port)
{
    int s = socket(AF_INET, type, 0);
    if (s < 0) {
        printf("%s: socket errno=%s\n", label, strerrorname_np(errno));
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
        printf("%s: connect errno=%s\n", label, strerrorname_np(errno));
    else
        printf("%s: CONNECTED\n", label);
    close(s);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    connect_to("udp 8.8.8.8:53", SOCK_DGRAM, "8.8.8.8", 53);
    connect_to("tcp 1.1.1.1:443", SOCK_STREAM, "1.1.1.1", 443);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    printf("tcp6: %s\n", s6 < 0 ? strerrorname_np(errno) : "socket created");
    struct addrinfo *res = NULL;
    int r = getaddrinfo("deb.debian.org", "80", NULL, &res);
    printf("getaddrinfo deb.debian.org: %s\n", r == 0 ? "RESOLVED" : "failed");
    return 0;
}
