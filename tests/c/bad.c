/*
 * bad.c — misuse of the allocator, one case per run (tests/c_abi.rs runs each
 * in its own child process and checks stderr and the exit signal).
 *
 * Usage: bad <case>
 *   Cases that must abort (SIGABRT) with a goheap message on stderr:
 *     free-stack, free-static, free-mmap, free-interior, double-free,
 *     double-free-zero, double-free-medium, double-free-large, realloc-invalid,
 *     realloc-double-free, usable-invalid, goheap-free-invalid
 *   Cases that must fail cleanly (NULL + ENOMEM, exit 0):
 *     malloc-huge, calloc-overflow
 * The program prints "reached <case>" on stdout and flushes it right before
 * the bad call, so the test can tell "aborted at the right place" apart from
 * "crashed earlier".
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <malloc.h>
#include <sys/mman.h>

static char static_buf[256] __attribute__((aligned(64)));

static void reached(const char *what) {
    printf("reached %s\n", what);
    fflush(stdout);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    const char *c = argv[1];
    char stack_buf[64] __attribute__((aligned(16)));
    memset(stack_buf, 0, sizeof stack_buf);

    if (!strcmp(c, "free-stack")) {
        reached(c);
        free(opaque_ptr(stack_buf));
    } else if (!strcmp(c, "free-static")) {
        reached(c);
        free(opaque_ptr(static_buf + 64));
    } else if (!strcmp(c, "free-mmap")) {
        char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(m != MAP_FAILED);
        reached(c);
        free(opaque_ptr(m + 4096));
    } else if (!strcmp(c, "free-interior")) {
        char *p = malloc(opaque_size(64));
        REQUIRE(p);
        reached(c);
        free(opaque_ptr(p + 16));
    } else if (!strcmp(c, "double-free")) {
        char *p = malloc(opaque_size(32));
        REQUIRE(p);
        free(p);
        reached(c);
        free(opaque_ptr(p));
    } else if (!strcmp(c, "double-free-zero")) {
        char *p = malloc(opaque_size(0));
        REQUIRE(p);
        free(p);
        reached(c);
        free(opaque_ptr(p));
    } else if (!strcmp(c, "double-free-medium")) {
        char *p = malloc(opaque_size(20000));
        REQUIRE(p);
        free(p);
        reached(c);
        free(opaque_ptr(p));
    } else if (!strcmp(c, "double-free-large")) {
        char *p = malloc(opaque_size(4 << 20));
        REQUIRE(p);
        free(p);
        reached(c);
        free(opaque_ptr(p));
    } else if (!strcmp(c, "realloc-invalid")) {
        reached(c);
        void *q = realloc(opaque_ptr(stack_buf), opaque_size(100));
        printf("realloc returned %p\n", q);
    } else if (!strcmp(c, "realloc-double-free")) {
        char *p = malloc(opaque_size(48));
        REQUIRE(p);
        free(p);
        reached(c);
        void *q = realloc(opaque_ptr(p), opaque_size(100));
        printf("realloc returned %p\n", q);
    } else if (!strcmp(c, "usable-invalid")) {
        reached(c);
        printf("usable %zu\n", malloc_usable_size(opaque_ptr(stack_buf)));
    } else if (!strcmp(c, "goheap-free-invalid")) {
        void (*gfree)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "goheap_free");
#ifdef GOHEAP_STATIC
        gfree = goheap_free;
#endif
        REQUIRE(gfree);
        reached(c);
        gfree(opaque_ptr(stack_buf));
    } else if (!strcmp(c, "malloc-huge")) {
        reached(c);
        errno = 0;
        void *p = malloc(opaque_size(SIZE_MAX / 2));
        REQUIRE(p == NULL && errno == ENOMEM);
        /* still usable afterwards */
        p = malloc(opaque_size(100));
        REQUIRE(p);
        free(p);
        printf("ok\n");
        return 0;
    } else if (!strcmp(c, "calloc-overflow")) {
        reached(c);
        errno = 0;
        void *p = calloc(opaque_size(SIZE_MAX / 4), opaque_size(8));
        REQUIRE(p == NULL && errno == ENOMEM);
        p = calloc(opaque_size(10), opaque_size(10));
        REQUIRE(p);
        free(p);
        printf("ok\n");
        return 0;
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    printf("survived %s\n", c);
    return 0;
}
