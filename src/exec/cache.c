/*
 * The compile cache: a compile step's artifacts on disk, keyed by SHA-256 of
 * everything the compile depends on, bounded by evicting the least recently
 * used entries.
 *
 * Layout under <data_dir>/compile-cache:
 *   <k0k1>/<key>/manifest   "moat-compile-cache 1\n<n>\n" then per file
 *                           "<sha256 hex> <0|1 executable> <bytes> <name>\n"
 *   <k0k1>/<key>/0 .. n-1   the artifacts' bytes (names live in the manifest
 *                           only, so no path on disk comes from a compiler)
 *   tmp/                    entries being written, and entries being removed
 * An entry is written in full under tmp/ and renamed into place, so a
 * complete directory appears at once; a crash may still leave an entry
 * whose files the kernel had not written back, so every load checks each
 * file's size and digest against the manifest and drops the entry on any
 * mismatch. Names are checked again on load (sbx_file_name_ok): the cache
 * directory is trusted no more than it has to be.
 *
 * The index (a hash of keys and an LRU list with each entry's size) is in
 * memory, built by scanning the directory at open; a mutex guards it, and
 * file I/O happens outside it. Two workers that compile the same key at
 * once both write an entry: the second rename fails and its copy is
 * removed.
 */
#include "cache-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define MANIFEST "manifest"
#define MANIFEST_MAGIC "moat-compile-cache 1\n"
#define MANIFEST_MAX 65536
#define TMP_DIR "tmp"
#define KEY_PREFIX_LEN 2

struct entry {
    char key[EXEC_CACHE_KEY_LEN + 1];
    uint64_t bytes;
    struct entry *prev, *next; /* LRU: lru.next is the most recent */
    struct entry *hnext;       /* hash chain */
};

struct bucket {
    struct entry *head;
};

struct exec_cache {
    pthread_mutex_t lock;
    int dirfd;
    uint64_t max_bytes;
    uint64_t entry_max;
    struct bucket *buckets;
    size_t nbuckets; /* a power of two */
    struct entry lru;
    uint64_t entries, bytes, hits, misses, evictions;
    uint64_t seq; /* names of tmp/ directories */
};

/* ---- files, beneath the cache directory only ---- */

static bool is_key(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == EXEC_CACHE_KEY_LEN;
}

static void entry_path(const char *key, char *out, size_t size)
{
    (void)snprintf(out, size, "%.*s/%s", KEY_PREFIX_LEN, key, key);
}

/* Removes the directory name under parent and what it holds (a tampered
 * entry may hold anything: nothing is followed, depth is bounded). */
static void rm_tree(int parent, const char *name, unsigned depth)
{
    int fd = open_beneath(parent, name, O_RDONLY | O_DIRECTORY, 0);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        if (!d) {
            (void)close(fd);
        } else {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno == EISDIR && depth < 4)
                    rm_tree(dirfd(d), e->d_name, depth + 1);
            }
            (void)closedir(d);
        }
    }
    (void)unlinkat(parent, name, AT_REMOVEDIR);
}

/* Moves an entry out of the way at once (a reader then misses cleanly,
 * a writer may put the key again), then removes it. */
static void remove_entry_dir(struct exec_cache *c, const char *key)
{
    char path[EXEC_CACHE_KEY_LEN + 8], trash[EXEC_CACHE_KEY_LEN + 64];
    entry_path(key, path, sizeof(path));
    pthread_mutex_lock(&c->lock);
    uint64_t seq = ++c->seq;
    pthread_mutex_unlock(&c->lock);
    (void)snprintf(trash, sizeof(trash), TMP_DIR "/rm-%s.%ld.%" PRIu64, key, (long)getpid(), seq);
    if (renameat(c->dirfd, path, c->dirfd, trash) == 0)
        rm_tree(c->dirfd, trash, 0);
}

/* ---- the index (callers hold the lock) ---- */

static size_t bucket_of(const struct exec_cache *c, const char *key)
{
    uint64_t h = 0;
    for (size_t i = 0; i < 16; i++) /* the key is a digest: any bits do */
        h = h << 4 | (uint64_t)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
    return (size_t)(h & (c->nbuckets - 1));
}

static struct entry *find(const struct exec_cache *c, const char *key)
{
    for (struct entry *e = c->buckets[bucket_of(c, key)].head; e; e = e->hnext)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void lru_unlink(struct entry *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
}

static void lru_push_front(struct exec_cache *c, struct entry *e)
{
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
}

static void grow(struct exec_cache *c)
{
    size_t n = c->nbuckets * 2;
    struct bucket *b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    struct bucket *old = c->buckets;
    size_t oldn = c->nbuckets;
    c->buckets = b;
    c->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct entry *e = old[i].head, *next; e; e = next) {
            next = e->hnext;
            size_t k = bucket_of(c, e->key);
            e->hnext = b[k].head;
            b[k].head = e;
        }
    }
    free(old);
}

/* Adds key at the front of the LRU order (it must not be indexed yet). */
static int index_add(struct exec_cache *c, const char *key, uint64_t bytes)
{
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    moat_strlcpy(e->key, key, sizeof(e->key));
    e->bytes = bytes;
    if (c->entries >= c->nbuckets)
        grow(c);
    size_t k = bucket_of(c, key);
    e->hnext = c->buckets[k].head;
    c->buckets[k].head = e;
    lru_push_front(c, e);
    c->entries++;
    c->bytes += bytes;
    return 0;
}

/* Unindexes e; the caller frees it. */
static void index_unlink(struct exec_cache *c, struct entry *e)
{
    struct entry **p = &c->buckets[bucket_of(c, e->key)].head;
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    lru_unlink(e);
    c->entries--;
    c->bytes -= e->bytes;
}

/* Unindexes least recently used entries (never keep) until the cache fits
 * its bound; their keys go to *victims (caller frees, removes the dirs). */
static size_t evict_locked(struct exec_cache *c, const struct entry *keep,
                           char (**victims)[EXEC_CACHE_KEY_LEN + 1])
{
    size_t n = 0, cap = 0;
    *victims = NULL;
    while (c->bytes > c->max_bytes && c->lru.prev != &c->lru && c->lru.prev != keep) {
        struct entry *e = c->lru.prev;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            void *p = realloc(*victims, ncap * sizeof(**victims));
            if (!p)
                break; /* over the bound until the next put */
            *victims = p;
            cap = ncap;
        }
        memcpy((*victims)[n++], e->key, sizeof(e->key));
        index_unlink(c, e);
        MOAT_ASSERT(c->lru.prev != e);
        free(e);
        c->evictions++;
    }
    return n;
}

static void evict(struct exec_cache *c, const struct entry *keep)
{
    char(*victims)[EXEC_CACHE_KEY_LEN + 1];
    size_t n = evict_locked(c, keep, &victims);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n; i++)
        remove_entry_dir(c, victims[i]);
    free(victims);
    pthread_mutex_lock(&c->lock);
}

/* ---- manifests ---- */

struct manifest_file {
    char digest[MOAT_SHA256_HEX_LEN + 1];
    bool executable;
    uint64_t len;
    const char *name; /* into the manifest text */
};

struct manifest {
    char *text;
    size_t nfiles;
    struct manifest_file files[SBX_COLLECT_MAX_FILES];
    uint64_t bytes; /* artifacts */
    struct timespec mtime;
};

static int parse_line(char *line, struct manifest_file *f)
{
    char *digest = line, *exec = strchr(line, ' ');
    if (!exec)
        return -EINVAL;
    *exec++ = '\0';
    char *len = strchr(exec, ' ');
    if (!len)
        return -EINVAL;
    *len++ = '\0';
    char *name = strchr(len, ' ');
    if (!name)
        return -EINVAL;
    *name++ = '\0';
    if (!is_key(digest) || (strcmp(exec, "0") != 0 && strcmp(exec, "1") != 0) ||
        parse_u64(len, 0, EXEC_CACHE_ENTRY_MAX, &f->len) < 0 || !sbx_file_name_ok(name))
        return -EINVAL;
    memcpy(f->digest, digest, sizeof(f->digest));
    f->executable = exec[0] == '1';
    f->name = name;
    return 0;
}

/* Reads and checks the manifest of the entry directory fd. */
static int manifest_read(int fd, uint64_t entry_max, struct manifest *m)
{
    *m = (struct manifest){0};
    int mfd = open_beneath(fd, MANIFEST, O_RDONLY, 0);
    if (mfd < 0)
        return mfd;
    struct stat st;
    if (fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size >= MANIFEST_MAX) {
        (void)close(mfd);
        return -EINVAL;
    }
    m->mtime = st.st_mtim;
    m->text = malloc((size_t)st.st_size + 1);
    int r = m->text ? read_full(mfd, m->text, (size_t)st.st_size) : -ENOMEM;
    (void)close(mfd);
    if (r < 0)
        return r;
    m->text[st.st_size] = '\0';
    /* whole lines only, no NUL: checked before strtok_r cuts the text up */
    if (!str_has_prefix(m->text, MANIFEST_MAGIC) || strlen(m->text) != (size_t)st.st_size ||
        m->text[st.st_size - 1] != '\n')
        return -EINVAL;
    char *save = NULL, *line = strtok_r(m->text + strlen(MANIFEST_MAGIC), "\n", &save);
    uint64_t n;
    if (!line || parse_u64(line, 0, SBX_COLLECT_MAX_FILES, &n) < 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        line = strtok_r(NULL, "\n", &save);
        if (!line || parse_line(line, &m->files[i]) < 0)
            return -EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->files[j].name, m->files[i].name) == 0)
                return -EINVAL;
        m->bytes += m->files[i].len;
        if (m->bytes > entry_max)
            return -EINVAL;
    }
    if (strtok_r(NULL, "\n", &save) != NULL)
        return -EINVAL;
    m->nfiles = (size_t)n;
    return 0;
}

/* ---- lookups ---- */

void exec_cache_hit_release(struct exec_cache_hit *h)
{
    free(h->files);
    free(h->storage);
    *h = (struct exec_cache_hit){0};
}

static int read_artifact(int dirfd, size_t i, const struct manifest_file *mf, char *dst)
{
    char name[24];
    (void)snprintf(name, sizeof(name), "%zu", i);
    int fd = open_beneath(dirfd, name, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    if (r == 0 && (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != mf->len))
        r = -EINVAL;
    if (r == 0)
        r = read_full(fd, dst, (size_t)mf->len);
    (void)close(fd);
    char digest[MOAT_SHA256_HEX_LEN + 1];
    if (r == 0) {
        moat_sha256_hex(dst, (size_t)mf->len, digest);
        if (strcmp(digest, mf->digest) != 0)
            r = -EINVAL; /* torn by a crash, or changed behind our back */
    }
    return r;
}

/* Loads an entry from disk into *hit; -errno when it is missing or bad. */
static int load_entry(struct exec_cache *c, const char *key, struct exec_cache_hit *hit)
{
    char path[EXEC_CACHE_KEY_LEN + 8];
    entry_path(key, path, sizeof(path));
    _cleanup_close_ int fd = open_beneath(c->dirfd, path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    struct manifest m;
    int r = manifest_read(fd, c->entry_max, &m);
    size_t names = 0;
    for (size_t i = 0; r == 0 && i < m.nfiles; i++)
        names += strlen(m.files[i].name) + 1;
    struct exec_cache_hit h = {0};
    if (r == 0) {
        h.files = calloc(m.nfiles ? m.nfiles : 1, sizeof(*h.files));
        h.storage = malloc((size_t)m.bytes + names + 1);
        if (!h.files || !h.storage)
            r = -ENOMEM;
    }
    char *p = h.storage;
    for (size_t i = 0; r == 0 && i < m.nfiles; i++) {
        const struct manifest_file *mf = &m.files[i];
        r = read_artifact(fd, i, mf, p);
        h.files[i] =
            (struct sbx_file){.data = p, .len = (size_t)mf->len, .executable = mf->executable};
        p += mf->len;
        size_t nl = strlen(mf->name) + 1;
        memcpy(p, mf->name, nl);
        h.files[i].name = p;
        p += nl;
    }
    free(m.text);
    if (r < 0) {
        exec_cache_hit_release(&h);
        return r;
    }
    h.nfiles = m.nfiles;
    /* the manifest's mtime is the LRU order a later open starts from */
    (void)utimensat(fd, MANIFEST, NULL, AT_SYMLINK_NOFOLLOW);
    *hit = h;
    return 0;
}

/* Counts a miss and forgets key (its files too when remove). */
static void drop(struct exec_cache *c, const char *key, bool remove)
{
    pthread_mutex_lock(&c->lock);
    c->misses++;
    struct entry *e = find(c, key); /* it may have been evicted meanwhile */
    if (e)
        index_unlink(c, e);
    pthread_mutex_unlock(&c->lock);
    free(e);
    if (remove)
        remove_entry_dir(c, key);
}

int exec_cache_get(struct exec_cache *c, const char *key, struct exec_cache_hit *hit)
{
    *hit = (struct exec_cache_hit){0};
    if (!is_key(key))
        return 0;
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    if (!e) {
        c->misses++;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    lru_unlink(e);
    lru_push_front(c, e);
    pthread_mutex_unlock(&c->lock);

    int r = load_entry(c, key, hit);
    if (r == 0) {
        pthread_mutex_lock(&c->lock);
        c->hits++;
        pthread_mutex_unlock(&c->lock);
        return 1;
    }
    drop(c, key, r != -ENOMEM);
    return 0;
}

void exec_cache_drop(struct exec_cache *c, const char *key)
{
    if (!is_key(key))
        return;
    pthread_mutex_lock(&c->lock);
    if (c->hits > 0)
        c->hits--; /* the hit that found it was no hit */
    pthread_mutex_unlock(&c->lock);
    drop(c, key, true);
}

/* ---- stores ---- */

/* Writes the artifacts and then the manifest into the new directory fd. */
static int write_entry(int fd, const struct sbx_collected *files, size_t nfiles, uint64_t *bytes)
{
    struct buf man;
    buf_init(&man, MANIFEST_MAX - 1);
    int r = buf_printf(&man, MANIFEST_MAGIC "%zu\n", nfiles);
    *bytes = 0;
    for (size_t i = 0; r == 0 && i < nfiles; i++) {
        char name[24], digest[MOAT_SHA256_HEX_LEN + 1];
        (void)snprintf(name, sizeof(name), "%zu", i);
        int afd = open_beneath(fd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (afd < 0) {
            r = afd;
            break;
        }
        r = write_full(afd, files[i].data, files[i].len);
        if (close(afd) < 0 && r == 0)
            r = -errno;
        moat_sha256_hex(files[i].data, files[i].len, digest);
        if (r == 0)
            r = buf_printf(&man, "%s %d %zu %s\n", digest, files[i].executable ? 1 : 0,
                           files[i].len, files[i].name);
        *bytes += files[i].len;
    }
    if (r == 0) {
        int mfd = open_beneath(fd, MANIFEST, O_WRONLY | O_CREAT | O_EXCL, 0600);
        r = mfd < 0 ? mfd : write_full(mfd, man.data, man.len);
        if (mfd >= 0 && close(mfd) < 0 && r == 0)
            r = -errno;
        *bytes += man.len;
    }
    buf_release(&man);
    return r;
}

static int check_artifacts(const struct exec_cache *c, const struct sbx_collected *files,
                           size_t nfiles)
{
    if (nfiles > SBX_COLLECT_MAX_FILES)
        return -E2BIG;
    uint64_t total = 0;
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i].name || !sbx_file_name_ok(files[i].name))
            return -EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(files[j].name, files[i].name) == 0)
                return -EINVAL;
        total += files[i].len;
        if (total > c->entry_max)
            return -E2BIG;
    }
    return 0;
}

int exec_cache_put(struct exec_cache *c, const char *key, const struct sbx_collected *files,
                   size_t nfiles)
{
    if (!is_key(key))
        return -EINVAL;
    int r = check_artifacts(c, files, nfiles);
    if (r < 0)
        return r == -E2BIG ? 0 : r;
    pthread_mutex_lock(&c->lock);
    bool known = find(c, key) != NULL;
    uint64_t seq = ++c->seq;
    pthread_mutex_unlock(&c->lock);
    if (known)
        return 0;

    char tmp[EXEC_CACHE_KEY_LEN + 64], final[EXEC_CACHE_KEY_LEN + 8];
    (void)snprintf(tmp, sizeof(tmp), TMP_DIR "/new-%s.%ld.%" PRIu64, key, (long)getpid(), seq);
    entry_path(key, final, sizeof(final));
    if (mkdirat(c->dirfd, tmp, 0700) < 0)
        return -errno;
    uint64_t bytes = 0;
    int fd = open_beneath(c->dirfd, tmp, O_RDONLY | O_DIRECTORY, 0);
    r = fd < 0 ? fd : write_entry(fd, files, nfiles, &bytes);
    if (fd >= 0)
        (void)close(fd);
    char prefix[KEY_PREFIX_LEN + 1];
    moat_strlcpy(prefix, key, sizeof(prefix));
    if (r == 0 && mkdirat(c->dirfd, prefix, 0700) < 0 && errno != EEXIST)
        r = -errno;
    if (r == 0 && renameat(c->dirfd, tmp, c->dirfd, final) < 0) {
        /* EEXIST/ENOTEMPTY: another worker put the same key first */
        r = errno == EEXIST || errno == ENOTEMPTY ? 1 : -errno;
    }
    if (r != 0) {
        rm_tree(c->dirfd, tmp, 0);
        return r > 0 ? 0 : r;
    }
    pthread_mutex_lock(&c->lock);
    struct entry *e = find(c, key);
    if (!e && index_add(c, key, bytes) == 0)
        e = c->lru.next;
    if (e)
        evict(c, e);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

uint64_t exec_cache_entry_max(const struct exec_cache *c)
{
    return c->entry_max;
}

/* ---- keys ---- */

static int key_part(struct buf *b, const void *data, size_t len)
{
    uint64_t n = len;
    int r = buf_append(b, &n, sizeof(n));
    return r < 0 ? r : buf_append(b, data, len);
}

static int key_strv(struct buf *b, const char *const *v)
{
    uint64_t n = 0;
    while (v && v[n])
        n++;
    int r = buf_append(b, &n, sizeof(n));
    for (size_t i = 0; r == 0 && i < n; i++)
        r = key_part(b, v[i], strlen(v[i]));
    return r;
}

int exec_cache_key(const struct exec_cache_input *in, char key[EXEC_CACHE_KEY_LEN + 1])
{
    static const char domain[] = "moat compile cache key 1";
    struct buf b;
    buf_init(&b, SIZE_MAX / 2);
    int r = key_part(&b, domain, sizeof(domain) - 1);
    if (r == 0)
        r = key_part(&b, in->lang, strlen(in->lang));
    if (r == 0)
        r = key_part(&b, in->version, strlen(in->version));
    if (r == 0)
        r = key_strv(&b, in->argv);
    if (r == 0)
        r = key_strv(&b, in->envp);
    uint64_t n = in->nfiles;
    if (r == 0)
        r = buf_append(&b, &n, sizeof(n));
    for (size_t i = 0; r == 0 && i < in->nfiles; i++) {
        const struct sbx_file *f = &in->files[i];
        uint64_t exec = f->executable;
        r = key_part(&b, f->name, strlen(f->name));
        if (r == 0)
            r = buf_append(&b, &exec, sizeof(exec));
        if (r == 0)
            r = key_part(&b, f->data, f->len);
    }
    if (r == 0)
        moat_sha256_hex(b.data, b.len, key);
    buf_release(&b);
    return r;
}

/* ---- open: the index from what is on disk ---- */

struct found {
    char key[EXEC_CACHE_KEY_LEN + 1];
    uint64_t bytes;
    struct timespec mtime;
};

struct scan {
    struct found *v;
    size_t n, cap;
};

static int by_mtime(const void *a, const void *b)
{
    const struct found *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* One entry directory found at open: indexed when its manifest is sound
 * (the files' digests are checked when it is used), removed otherwise. */
static int scan_entry(struct exec_cache *c, int pfd, const char *prefix, const char *name,
                      struct scan *s)
{
    if (!is_key(name) || strncmp(name, prefix, KEY_PREFIX_LEN) != 0) {
        rm_tree(pfd, name, 0);
        return 0;
    }
    int fd = open_beneath(pfd, name, O_RDONLY | O_DIRECTORY, 0);
    struct manifest m = {0};
    int r = fd < 0 ? fd : manifest_read(fd, c->entry_max, &m);
    size_t mlen = m.text ? strlen(m.text) : 0;
    free(m.text);
    if (fd >= 0)
        (void)close(fd);
    if (r == -ENOMEM)
        return r;
    if (r < 0) {
        rm_tree(pfd, name, 0);
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        void *p = realloc(s->v, cap * sizeof(*s->v));
        if (!p)
            return -ENOMEM;
        s->v = p;
        s->cap = cap;
    }
    struct found *f = &s->v[s->n++];
    moat_strlcpy(f->key, name, sizeof(f->key));
    f->bytes = m.bytes + mlen;
    f->mtime = m.mtime;
    return 0;
}

static int scan_prefix(struct exec_cache *c, const char *prefix, struct scan *s)
{
    int fd = open_beneath(c->dirfd, prefix, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = -errno;
        (void)close(fd);
        return e;
    }
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            r = scan_entry(c, dirfd(d), prefix, e->d_name, s);
    (void)closedir(d);
    return r;
}

static int scan_all(struct exec_cache *c)
{
    struct scan s = {0};
    int r = 0;
    for (unsigned i = 0; r == 0 && i < 256; i++) {
        char prefix[KEY_PREFIX_LEN + 1];
        (void)snprintf(prefix, sizeof(prefix), "%02x", i);
        r = scan_prefix(c, prefix, &s);
    }
    if (r == 0 && s.n)
        qsort(s.v, s.n, sizeof(*s.v), by_mtime);
    /* oldest first, so the most recently used ends at the front */
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; r == 0 && i < s.n; i++)
        r = index_add(c, s.v[i].key, s.v[i].bytes);
    if (r == 0)
        evict(c, NULL);
    pthread_mutex_unlock(&c->lock);
    free(s.v);
    return r;
}

static int open_dir(const struct moat_config *cfg, struct moat_err *err)
{
    if (!cfg->data_dir[0])
        return moat_err_field(err, -EINVAL, "data_dir", "no data directory for the compile cache");
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST)
        return moat_err_field(err, -errno, "data_dir", "cannot create %s: %s", cfg->data_dir,
                              strerror(errno));
    _cleanup_close_ int data = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (data < 0)
        return moat_err_field(err, -errno, "data_dir", "cannot open %s: %s", cfg->data_dir,
                              strerror(errno));
    if (mkdirat(data, "compile-cache", 0700) < 0 && errno != EEXIST)
        return moat_err_set(err, -errno, "cannot create %s/compile-cache: %s", cfg->data_dir,
                            strerror(errno));
    int fd = open_beneath(data, "compile-cache", O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return moat_err_set(err, fd, "cannot open %s/compile-cache: %s", cfg->data_dir,
                            strerror(-fd));
    /* what a crash left half written or half removed */
    rm_tree(fd, TMP_DIR, 0);
    if (mkdirat(fd, TMP_DIR, 0700) < 0 && errno != EEXIST) {
        int e = -errno;
        (void)close(fd);
        return moat_err_set(err, e, "cannot create %s/compile-cache/" TMP_DIR ": %s", cfg->data_dir,
                            strerror(-e));
    }
    return fd;
}

int exec_cache_open(const struct moat_config *cfg, struct exec_cache **out, struct moat_err *err)
{
    struct exec_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->nbuckets = 256;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    if (!c->buckets) {
        free(c);
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->lru.next = c->lru.prev = &c->lru;
    c->max_bytes = cfg->compile_cache_mb << 20;
    c->entry_max = c->max_bytes < EXEC_CACHE_ENTRY_MAX ? c->max_bytes : EXEC_CACHE_ENTRY_MAX;
    c->dirfd = open_dir(cfg, err);
    int r = c->dirfd < 0 ? c->dirfd : scan_all(c);
    if (r < 0) {
        if (r == -ENOMEM)
            moat_err_set(err, r, "out of memory reading the compile cache");
        exec_cache_free(c);
        return r;
    }
    *out = c;
    return 0;
}

void exec_cache_free(struct exec_cache *c)
{
    if (!c)
        return;
    for (struct entry *e = c->lru.next, *next; e != &c->lru; e = next) {
        next = e->next;
        free(e);
    }
    free(c->buckets);
    if (c->dirfd >= 0)
        (void)close(c->dirfd);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void exec_cache_stats(struct exec_cache *c, struct exec_cache_stats *st)
{
    pthread_mutex_lock(&c->lock);
    *st = (struct exec_cache_stats){.hits = c->hits,
                                    .misses = c->misses,
                                    .entries = c->entries,
                                    .bytes = c->bytes,
                                    .evictions = c->evictions};
    pthread_mutex_unlock(&c->lock);
}
