/*
 * api.c — semantics of goheap's malloc family as seen from C: results,
 * alignment, zeroing, realloc contents, errno, sizes at the limits, and
 * allocations made inside libc being released with our free().
 *
 * Every check runs against the standard names (malloc, free, ...) and, when
 * goheap is present, against the goheap_ names as well. Run without goheap
 * (plain glibc) it validates its own expectations; the few checks where
 * goheap deliberately differs from glibc 2.36 are marked GOHEAP_ONLY.
 */
#define _GNU_SOURCE
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*reallocarray)(void *, size_t, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*usable)(void *);
} api_t;

static int goheap;   /* 1 when goheap provides malloc */

#ifdef GOHEAP_STATIC
/* glibc-internal names that libgoheap also defines (no public prototypes). */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void cfree(void *);
#endif
static size_t page;

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 131u + (i >> 8));
}
static int verify(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 131u + (i >> 8)))
            return 0;
    return 1;
}
static int all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static const size_t sizes[] = {
    0,    1,    2,    7,    8,    9,     15,    16,    17,     23,     24,
    25,   31,   32,   33,   48,   63,    64,    65,    100,    127,    128,
    129,  255,  256,  257,  500,  512,   1000,  1024,  1500,   2048,   3000,
    4095, 4096, 4097, 8000, 8192, 12345, 16384, 32767, 32768,  32769,  65536,
    100000, 262144, 1000000, 1048576, 4194304, 10000000, 33554433,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void test_malloc(const api_t *a) {
    void *ptrs[NSIZES];
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = opaque_size(sizes[i]);
        errno = 0;
        unsigned char *p = a->malloc(n);
        CHECKF(p != NULL, "%s malloc(%zu)", a->name, n);
        ptrs[i] = p;
        if (!p)
            continue;
        CHECKF(is_aligned(p, 16), "%s malloc(%zu) = %p", a->name, n, (void *)p);
        CHECKF(a->usable(p) >= n, "%s usable(malloc(%zu)) = %zu", a->name, n,
               a->usable(p));
        if (goheap)
            CHECKF(a->usable(p) >= ((n + 15) & ~(size_t)15),
                   "%s usable(malloc(%zu)) = %zu", a->name, n, a->usable(p));
        fill(p, a->usable(p), (unsigned)i);
    }
    for (size_t i = 0; i < NSIZES; i++) {
        if (ptrs[i])
            CHECKF(verify(ptrs[i], a->usable(ptrs[i]), (unsigned)i),
                   "%s contents of malloc(%zu) changed", a->name, sizes[i]);
        for (size_t j = 0; j < i; j++)
            CHECKF(ptrs[i] != ptrs[j], "%s malloc results %zu and %zu alias",
                   a->name, i, j);
    }
    for (size_t i = 0; i < NSIZES; i++)
        a->free(ptrs[i]);

    /* malloc(0): unique, non-NULL, freeable. */
    void *z1 = a->malloc(opaque_size(0)), *z2 = a->malloc(opaque_size(0));
    CHECK(z1 && z2 && z1 != z2);
    a->free(z1);
    a->free(z2);

    /* free(NULL) is a no-op. */
    a->free(NULL);

    /* Out of memory: NULL + ENOMEM, no crash. */
    size_t huge[] = {SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = a->malloc(opaque_size(huge[i]));
        CHECKF(p == NULL && errno == ENOMEM, "%s malloc(%#zx) = %p errno %d",
               a->name, huge[i], p, errno);
    }

    /* Many small blocks of one size: distinct, aligned. */
    enum { N = 10000 };
    static void *many[N];
    for (int i = 0; i < N; i++) {
        many[i] = a->malloc(opaque_size(24));
        CHECK(many[i] && is_aligned(many[i], 16));
        if (many[i])
            memset(many[i], i & 0xff, 24);
    }
    for (int i = 0; i < N; i++) {
        if (many[i])
            CHECK(((unsigned char *)many[i])[23] == (i & 0xff));
        a->free(many[i]);
    }
}

static void test_calloc(const api_t *a) {
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        /* Dirty a block of the same size first so that calloc has a chance
           to get recycled memory. */
        unsigned char *d = a->malloc(opaque_size(n));
        CHECK(d != NULL);
        if (d) {
            memset(d, 0xA5, n);
            a->free(d);
        }
        for (int k = 0; k < 3; k++) {
            unsigned char *p = a->calloc(opaque_size(1), opaque_size(n));
            CHECKF(p != NULL, "%s calloc(1, %zu)", a->name, n);
            if (!p)
                continue;
            CHECKF(is_aligned(p, 16), "%s calloc(1, %zu) = %p", a->name, n,
                   (void *)p);
            CHECKF(all_zero(p, n), "%s calloc(1, %zu) not zeroed", a->name, n);
            memset(p, 0x5A, n);
            a->free(p);
        }
    }
    unsigned *arr = a->calloc(opaque_size(1000), sizeof(unsigned));
    CHECK(arr && all_zero((unsigned char *)arr, 1000 * sizeof(unsigned)));
    a->free(arr);
    void *z = a->calloc(opaque_size(0), opaque_size(0));
    CHECK(z != NULL);
    a->free(z);

    struct { size_t n, s; } bad[] = {
        {SIZE_MAX / 2, 3}, {SIZE_MAX, SIZE_MAX}, {2, SIZE_MAX / 2 + 1},
        {1, SIZE_MAX}, {(size_t)1 << 33, (size_t)1 << 33}, {1, SIZE_MAX / 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = a->calloc(opaque_size(bad[i].n), opaque_size(bad[i].s));
        CHECKF(p == NULL && errno == ENOMEM, "%s calloc(%#zx, %#zx) = %p errno %d",
               a->name, bad[i].n, bad[i].s, p, errno);
    }
}

static void test_realloc(const api_t *a) {
    /* realloc(NULL, n) == malloc(n). */
    unsigned char *p = a->realloc(NULL, opaque_size(10));
    CHECK(p && is_aligned(p, 16));
    fill(p, 10, 7);

    /* Grow through every size range, checking the old contents survive. */
    size_t n = 10;
    while (n < (size_t)8 << 20) {
        size_t m = n + n / 2 + 3;
        unsigned char *q = a->realloc(p, opaque_size(m));
        CHECKF(q != NULL, "%s realloc(%zu -> %zu)", a->name, n, m);
        if (!q)
            break;
        CHECKF(is_aligned(q, 16), "%s realloc -> %p", a->name, (void *)q);
        CHECKF(verify(q, n, 7), "%s realloc(%zu -> %zu) lost contents", a->name,
               n, m);
        fill(q, m, 7);
        p = q;
        n = m;
    }
    /* And shrink again. */
    while (n > 5) {
        size_t m = n / 3;
        unsigned char *q = a->realloc(p, opaque_size(m));
        CHECKF(q != NULL, "%s realloc(%zu -> %zu)", a->name, n, m);
        if (!q)
            break;
        CHECKF(is_aligned(q, 16), "%s realloc -> %p", a->name, (void *)q);
        CHECKF(verify(q, m, 7), "%s realloc(%zu -> %zu) lost contents", a->name,
               n, m);
        CHECK(a->usable(q) >= m);
        p = q;
        n = m;
    }

    /* Out of memory: NULL + ENOMEM, old block intact and still ours. */
    size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        unsigned char *q = a->realloc(p, opaque_size(huge[i]));
        CHECKF(q == NULL && errno == ENOMEM, "%s realloc(p, %#zx) = %p errno %d",
               a->name, huge[i], (void *)q, errno);
        CHECK(verify(p, n, 7));
    }

    /* realloc(p, 0) frees p and returns NULL (glibc). */
    errno = 0;
    void *r = a->realloc(p, opaque_size(0));
    CHECKF(r == NULL, "%s realloc(p, 0) = %p", a->name, r);
    CHECK(errno == 0);
    if (r)
        a->free(r);

    /* Same-size and tiny changes keep contents. */
    p = a->malloc(opaque_size(100));
    REQUIRE(p);
    fill(p, 100, 3);
    for (size_t m = 100; m < 400; m += 13) {
        unsigned char *q = a->realloc(p, opaque_size(m));
        REQUIRE(q);
        CHECK(verify(q, 100, 3));
        p = q;
    }
    a->free(p);

    /* A page-aligned block reallocated keeps its contents. */
    p = a->memalign(opaque_size(4096), opaque_size(5000));
    REQUIRE(p);
    fill(p, 5000, 9);
    unsigned char *q = a->realloc(p, opaque_size(20000));
    REQUIRE(q);
    CHECK(verify(q, 5000, 9) && is_aligned(q, 16));
    a->free(q);
}

static void test_reallocarray(const api_t *a) {
    int *v = a->reallocarray(NULL, opaque_size(10), sizeof(int));
    REQUIRE(v);
    for (int i = 0; i < 10; i++)
        v[i] = i * i;
    int *w = a->reallocarray(v, opaque_size(100000), sizeof(int));
    CHECK(w != NULL);
    if (w) {
        v = w;
        for (int i = 0; i < 10; i++)
            CHECK(v[i] == i * i);
    }
    errno = 0;
    w = a->reallocarray(v, opaque_size(SIZE_MAX / 2), opaque_size(3));
    CHECKF(w == NULL && errno == ENOMEM, "%s reallocarray overflow = %p errno %d",
           a->name, (void *)w, errno);
    for (int i = 0; i < 10; i++)
        CHECK(v[i] == i * i);
    errno = 0;
    w = a->reallocarray(v, opaque_size(SIZE_MAX / 8), opaque_size(4));
    CHECKF(w == NULL && errno == ENOMEM, "%s reallocarray huge = %p errno %d",
           a->name, (void *)w, errno);
    a->free(v);
}

static void test_posix_memalign(const api_t *a) {
    static const size_t szs[] = {0, 1, 8, 17, 100, 4096, 4097, 100000, 3000000};
    for (size_t al = sizeof(void *); al <= ((size_t)4 << 20); al *= 2) {
        for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
            void *p = (void *)0x1;
            errno = 4242;
            int rc = a->posix_memalign(&p, opaque_size(al), opaque_size(szs[i]));
            CHECKF(rc == 0, "%s posix_memalign(%zu, %zu) = %d", a->name, al,
                   szs[i], rc);
            CHECK(errno == 4242);
            if (rc)
                continue;
            CHECKF(p && is_aligned(p, al) && is_aligned(p, 16),
                   "%s posix_memalign(%zu, %zu) -> %p", a->name, al, szs[i], p);
            CHECK(a->usable(p) >= szs[i]);
            memset(p, 0x77, szs[i]);
            a->free(p);
        }
    }
    /* EINVAL: not a power of two or not a multiple of sizeof(void *). */
    static const size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 48, 4097, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = (void *)0x1234;
        errno = 4242;
        int rc = a->posix_memalign(&p, opaque_size(bad[i]), opaque_size(64));
        CHECKF(rc == EINVAL, "%s posix_memalign(align %zu) = %d", a->name,
               bad[i], rc);
        CHECK(p == (void *)0x1234);
        CHECK(errno == 4242);
    }
    /* ENOMEM, errno untouched, *memptr untouched. */
    void *p = (void *)0x1234;
    errno = 4242;
    int rc = a->posix_memalign(&p, opaque_size(64), opaque_size(SIZE_MAX / 2));
    CHECKF(rc == ENOMEM, "%s posix_memalign(64, SIZE_MAX/2) = %d", a->name, rc);
    CHECK(p == (void *)0x1234);
    /* GOHEAP_ONLY: goheap leaves errno alone even on ENOMEM (glibc 2.36 sets
       it to ENOMEM as a side effect). */
    if (goheap)
        CHECKF(errno == 4242, "%s posix_memalign modified errno to %d", a->name,
               errno);
    rc = a->posix_memalign(&p, opaque_size(4096), opaque_size(SIZE_MAX - 100));
    CHECKF(rc == ENOMEM, "%s posix_memalign(4096, SIZE_MAX-100) = %d", a->name, rc);
    rc = a->posix_memalign(&p, opaque_size((size_t)1 << 62), opaque_size(1));
    CHECKF(rc == ENOMEM, "%s posix_memalign(1<<62, 1) = %d", a->name, rc);
    CHECK(p == (void *)0x1234);
}

static void test_aligned(const api_t *a) {
    static const size_t szs[] = {0, 1, 16, 33, 1000, 4096, 65536, 2000000};
    for (size_t al = 1; al <= ((size_t)2 << 20); al *= 2) {
        for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
            size_t n = szs[i];
            void *p = a->aligned_alloc(opaque_size(al), opaque_size(n));
            CHECKF(p && is_aligned(p, al) && is_aligned(p, 16),
                   "%s aligned_alloc(%zu, %zu) = %p", a->name, al, n, p);
            if (p) {
                CHECK(a->usable(p) >= n);
                memset(p, 1, n);
            }
            a->free(p);

            p = a->memalign(opaque_size(al), opaque_size(n));
            CHECKF(p && is_aligned(p, al) && is_aligned(p, 16),
                   "%s memalign(%zu, %zu) = %p", a->name, al, n, p);
            if (p)
                memset(p, 2, n);
            a->free(p);
        }
    }
    /* memalign: a non-power-of-two alignment is rounded up (glibc). */
    void *p = a->memalign(opaque_size(24), opaque_size(100));
    CHECKF(p && is_aligned(p, 32), "%s memalign(24) = %p", a->name, p);
    a->free(p);
    p = a->memalign(opaque_size(3000), opaque_size(100));
    CHECKF(p && is_aligned(p, 4096), "%s memalign(3000) = %p", a->name, p);
    a->free(p);
    p = a->memalign(opaque_size(0), opaque_size(100));
    CHECKF(p && is_aligned(p, 16), "%s memalign(0) = %p", a->name, p);
    a->free(p);
    /* memalign: alignment above SIZE_MAX/2+1 is EINVAL (glibc). */
    errno = 0;
    p = a->memalign(opaque_size(SIZE_MAX / 2 + 2), opaque_size(100));
    CHECKF(p == NULL && errno == EINVAL, "%s memalign(huge align) = %p errno %d",
           a->name, p, errno);
    errno = 0;
    p = a->memalign(opaque_size(64), opaque_size(SIZE_MAX / 2));
    CHECKF(p == NULL && errno == ENOMEM, "%s memalign(64, huge) = %p errno %d",
           a->name, p, errno);
    errno = 0;
    p = a->aligned_alloc(opaque_size(64), opaque_size(SIZE_MAX - 10));
    CHECKF(p == NULL && errno == ENOMEM, "%s aligned_alloc(64, huge) = %p errno %d",
           a->name, p, errno);

    /* GOHEAP_ONLY: aligned_alloc rejects a non-power-of-two alignment with
       EINVAL (C11, glibc >= 2.38; glibc 2.36 treats it like memalign). */
    if (goheap) {
        static const size_t bad[] = {0, 3, 24, 100, 4097};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            errno = 0;
            p = a->aligned_alloc(opaque_size(bad[i]), opaque_size(64));
            CHECKF(p == NULL && errno == EINVAL,
                   "%s aligned_alloc(%zu, 64) = %p errno %d", a->name, bad[i],
                   p, errno);
        }
    }

    /* valloc / pvalloc. */
    for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
        size_t n = szs[i];
        p = a->valloc(opaque_size(n));
        CHECKF(p && is_aligned(p, page), "%s valloc(%zu) = %p", a->name, n, p);
        if (p) {
            CHECK(a->usable(p) >= n);
            memset(p, 3, n);
        }
        a->free(p);
        p = a->pvalloc(opaque_size(n));
        CHECKF(p && is_aligned(p, page), "%s pvalloc(%zu) = %p", a->name, n, p);
        if (p) {
            size_t rounded = (n + page - 1) & ~(page - 1);
            CHECKF(a->usable(p) >= rounded, "%s usable(pvalloc(%zu)) = %zu",
                   a->name, n, a->usable(p));
            memset(p, 4, rounded);
        }
        a->free(p);
    }
    errno = 0;
    p = a->pvalloc(opaque_size(SIZE_MAX - 10));
    CHECKF(p == NULL && errno == ENOMEM, "%s pvalloc(huge) = %p errno %d", a->name,
           p, errno);
    errno = 0;
    p = a->valloc(opaque_size(SIZE_MAX / 2));
    CHECKF(p == NULL && errno == ENOMEM, "%s valloc(huge) = %p errno %d", a->name,
           p, errno);
}

static void test_errno_preserved(const api_t *a) {
    /* free() does not modify errno (POSIX.1-2024; glibc >= 2.33). */
    static const size_t szs[] = {16, 5000, 100000, 1 << 20, 64 << 20};
    for (size_t i = 0; i < sizeof szs / sizeof szs[0]; i++) {
        void *p = a->malloc(opaque_size(szs[i]));
        REQUIRE(p);
        memset(p, 1, szs[i]);
        errno = 4242;
        a->free(p);
        CHECKF(errno == 4242, "%s free(%zu-byte block) changed errno to %d",
               a->name, szs[i], errno);
    }
    /* Successful allocations do not set errno. */
    errno = 4242;
    void *p = a->malloc(opaque_size(100));
    p = a->realloc(p, opaque_size(100000));
    a->free(p);
    CHECK(errno == 4242);
    CHECK(a->usable(NULL) == 0);
}

/* Memory allocated by libc itself and released with free(), and memory we
   allocate that libc releases or resizes. */
static int count_entries(const struct dirent *d) { return d->d_name[0] != 'x'; }
static void test_libc_interop(void) {
    char *s = strdup("goheap");
    CHECK(s && strcmp(s, "goheap") == 0);
    free(s);
    s = strndup("goheap-strndup", 6);
    CHECK(s && strcmp(s, "goheap") == 0);
    free(s);

    char *as = NULL;
    CHECK(asprintf(&as, "%s-%d-%0500d", "asprintf", 42, 7) > 500);
    CHECK(as && strncmp(as, "asprintf-42-", 12) == 0);
    free(as);

    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    REQUIRE(ms);
    for (int i = 0; i < 10000; i++)
        fprintf(ms, "line %d\n", i);
    fclose(ms);
    CHECK(buf && len > 10000 && strncmp(buf, "line 0\n", 7) == 0);

    FILE *f = fmemopen(buf, len, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, f) > 0)
        lines++;
    CHECK(lines == 10000);
    free(line);
    fclose(f);
    free(buf);

    char *cwd = getcwd(NULL, 0);
    CHECK(cwd != NULL);
    char *rp = realpath(".", NULL);
    CHECK(rp && cwd && strcmp(rp, cwd) == 0);
    free(rp);
    free(cwd);

    struct dirent **list = NULL;
    int n = scandir("/", &list, count_entries, alphasort);
    CHECK(n > 0);
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);

    /* stdio buffers */
    for (int i = 0; i < 50; i++) {
        FILE *t = tmpfile();
        REQUIRE(t);
        fprintf(t, "%d\n", i);
        fclose(t);
    }

    /* dlopen / dlclose allocate inside the dynamic loader. */
    void *h = dlopen("libm.so.6", RTLD_NOW);
    CHECK(h != NULL);
    if (h) {
        double (*cos_fn)(double) = (double (*)(double))dlsym(h, "cos");
        CHECK(cos_fn && cos_fn(0.0) == 1.0);
        dlclose(h);
    }

    /* qsort allocates a temporary array for large inputs. */
    enum { M = 200000 };
    int *arr = malloc(M * sizeof(int));
    REQUIRE(arr);
    for (int i = 0; i < M; i++)
        arr[i] = (int)((i * 7919u) % M);
    int cmp(const void *x, const void *y);
    qsort(arr, M, sizeof(int), cmp);
    int sorted = 1;
    for (int i = 0; i < M; i++)
        sorted &= arr[i] == i;
    CHECK(sorted);
    free(arr);
}
int cmp(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* Announces each part on stdout (flushed, so it survives an abort). */
#define PART(a, fn)                                          \
    do {                                                     \
        printf("api: %s: %s\n", (a)->name, #fn);             \
        fflush(stdout);                                      \
        fn(a);                                               \
    } while (0)

static void run_all(const api_t *a) {
    PART(a, test_malloc);
    PART(a, test_calloc);
    PART(a, test_realloc);
    PART(a, test_reallocarray);
    PART(a, test_posix_memalign);
    PART(a, test_aligned);
    PART(a, test_errno_preserved);
}

#define LOOKUP(field, sym) \
    REQUIRE((g.field = (__typeof__(g.field))dlsym(RTLD_DEFAULT, sym)) != NULL)

int main(void) {
    page = (size_t)sysconf(_SC_PAGESIZE);
    goheap = goheap_mode();
    printf("api: allocator: %s\n", goheap ? "goheap" : "system");
    fflush(stdout);

    api_t std = {"std",     malloc,  free,    calloc,  realloc,
                 reallocarray, posix_memalign, aligned_alloc, memalign,
                 valloc,    pvalloc, malloc_usable_size};
    run_all(&std);
    printf("api: test_libc_interop\n");
    fflush(stdout);
    test_libc_interop();

    if (goheap) {
        api_t g = {.name = "goheap_"};
#ifdef GOHEAP_STATIC
        g = (api_t){"goheap_",
                    goheap_malloc,
                    goheap_free,
                    goheap_calloc,
                    goheap_realloc,
                    goheap_reallocarray,
                    goheap_posix_memalign,
                    goheap_aligned_alloc,
                    goheap_memalign,
                    goheap_valloc,
                    goheap_pvalloc,
                    goheap_malloc_usable_size};
#else
        LOOKUP(malloc, "goheap_malloc");
        LOOKUP(free, "goheap_free");
        LOOKUP(calloc, "goheap_calloc");
        LOOKUP(realloc, "goheap_realloc");
        LOOKUP(reallocarray, "goheap_reallocarray");
        LOOKUP(posix_memalign, "goheap_posix_memalign");
        LOOKUP(aligned_alloc, "goheap_aligned_alloc");
        LOOKUP(memalign, "goheap_memalign");
        LOOKUP(valloc, "goheap_valloc");
        LOOKUP(pvalloc, "goheap_pvalloc");
        LOOKUP(usable, "goheap_malloc_usable_size");
#endif
        run_all(&g);

        /* One heap: the two sets of names mix freely. */
        void *p = malloc(opaque_size(100));
        CHECK(g.usable(p) >= 100);
        g.free(p);
        p = g.malloc(opaque_size(100));
        p = realloc(p, opaque_size(1000));
        CHECK(p && malloc_usable_size(p) >= 1000);
        free(p);

        /* The glibc-internal aliases and cfree are goheap's too. */
#ifdef GOHEAP_STATIC
        void *aliases[] = {
            (void *)&__libc_malloc,   (void *)&__libc_free,
            (void *)&__libc_calloc,   (void *)&__libc_realloc,
            (void *)&__libc_memalign, (void *)&__libc_valloc,
            (void *)&__libc_pvalloc,  (void *)&cfree,
        };
#else
        void *aliases[] = {
            dlsym(RTLD_DEFAULT, "__libc_malloc"),   dlsym(RTLD_DEFAULT, "__libc_free"),
            dlsym(RTLD_DEFAULT, "__libc_calloc"),   dlsym(RTLD_DEFAULT, "__libc_realloc"),
            dlsym(RTLD_DEFAULT, "__libc_memalign"), dlsym(RTLD_DEFAULT, "__libc_valloc"),
            dlsym(RTLD_DEFAULT, "__libc_pvalloc"),  dlsym(RTLD_DEFAULT, "cfree"),
        };
#endif
        Dl_info gi;
        REQUIRE(dladdr((void *)g.malloc, &gi));
        for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
            Dl_info si;
            CHECKF(aliases[i] && dladdr(aliases[i], &si) && si.dli_fbase == gi.dli_fbase,
                   "alias #%zu does not come from goheap", i);
        }
        void *(*lm)(size_t) = (void *(*)(size_t))aliases[0];
        void (*lf)(void *) = (void (*)(void *))aliases[1];
        if (lm && lf) {
            p = lm(opaque_size(77));
            CHECK(p && malloc_usable_size(p) >= 77);
            lf(p);
        }
    }
    return check_report("api");
}
