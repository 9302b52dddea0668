/*
 * hello.c — the smallest goheap client: a few allocations (including one
 * made inside libc and freed here) and a line naming the allocator in use.
 * Used by tests/c_abi.rs for the GOHEAP_VERBOSE banner and the installed
 * (pkg-config) builds.
 */
#define _GNU_SOURCE
#include "check.h"

int main(void) {
    int goheap = goheap_mode();
    char *s = strdup("hello");
    REQUIRE(s);
    char *p = malloc(opaque_size(1000));
    REQUIRE(p);
    memcpy(p, s, 6);
    p = realloc(p, opaque_size(100000));
    REQUIRE(p && strcmp(p, "hello") == 0);
    free(p);
    free(s);
    printf("hello: allocator %s\n", goheap ? "goheap" : "system");
    return 0;
}
