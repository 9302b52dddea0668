/*
 * check.h — tiny test helpers shared by the C programs in tests/c/ (goheap's
 * C ABI tests). Each program is built twice by tests/c_abi.rs: statically
 * linked against libgoheap.a with -DGOHEAP_STATIC, and as a plain glibc
 * program that is then run both as is (to validate the expectations against
 * glibc) and under LD_PRELOAD=libgoheap.so.
 */
#ifndef GOHEAP_TEST_CHECK_H
#define GOHEAP_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long check_count;
static unsigned long check_failures;

#define CHECK(cond)                                                          \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECKF(cond, ...)                                                    \
    do {                                                                     \
        check_count++;                                                       \
        if (!(cond)) {                                                       \
            check_failures++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* Dies at once (for conditions the rest of a test depends on). */
#define REQUIRE(cond)                                                        \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                        \
            exit(2);                                                         \
        }                                                                    \
    } while (0)

/* Hides a value from the optimiser (so it cannot fold allocation sizes). */
static inline size_t opaque_size(size_t v) {
    volatile size_t x = v;
    return x;
}
static inline void *opaque_ptr(void *v) {
    void *volatile x = v;
    return x;
}

static inline int is_aligned(const void *p, size_t a) {
    return ((uintptr_t)p & (a - 1)) == 0;
}

/*
 * Where this program's allocator comes from:
 *   0 — glibc (a plain run),
 *   1 — goheap (LD_PRELOAD or static link): the goheap_ entry points exist
 *       and `malloc` resolves to the same object as goheap_malloc.
 * Exits with an error when goheap_malloc exists but malloc is not goheap's.
 */
#ifdef GOHEAP_STATIC
#include "goheap.h"
#endif

static inline int goheap_mode(void) {
#ifdef GOHEAP_STATIC
    void *gm = (void *)&goheap_malloc;
    void *m = (void *)&malloc;
    /* The executable must export malloc & co. so that libc, libstdc++ and
       the dynamic loader use them too. */
    REQUIRE(dlsym(RTLD_DEFAULT, "malloc") == m);
    REQUIRE(dlsym(RTLD_DEFAULT, "free") == (void *)&free);
#else
    void *gm = dlsym(RTLD_DEFAULT, "goheap_malloc");
    if (!gm)
        return 0;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
#endif
    Dl_info a, b;
    REQUIRE(m && dladdr(m, &a) && dladdr(gm, &b));
    if (a.dli_fbase != b.dli_fbase) {
        fprintf(stderr, "malloc comes from %s, goheap_malloc from %s\n",
                a.dli_fname, b.dli_fname);
        exit(2);
    }
    return 1;
}

static inline int check_report(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %lu of %lu checks FAILED\n", name, check_failures,
                check_count);
        return 1;
    }
    printf("%s: %lu checks ok\n", name, check_count);
    return 0;
}

#endif
