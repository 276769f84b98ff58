/*
 * Corpus replayer: links a libFuzzer target into an ordinary program that
 * feeds it every file named on the command line (or every file of the
 * directories named). ctest runs it under ASan+UBSan with gcc, so the
 * corpus is checked on every `make test`; tests/fuzz/run.sh does the real
 * coverage-guided fuzzing with clang's libFuzzer.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < 0 || st.st_size > (16 << 20)) {
        (void)close(fd);
        return 1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *data = malloc(len ? len : 1);
    size_t got = 0;
    while (data && got < len) {
        ssize_t n = read(fd, data + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    (void)close(fd);
    if (!data || got != len) {
        free(data);
        return 1;
    }
    (void)LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int failed = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            failed |= replay_file(argv[i]);
            count++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            (void)snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            failed |= replay_file(path);
            count++;
        }
        (void)closedir(d);
    }
    printf("replayed %d inputs\n", count);
    return failed || count == 0;
}
