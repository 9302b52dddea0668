/*
 * gccheck.h — helpers for the libgc C API tests in tests/c/gc/ (driven by
 * tests/libgc.rs). Each program includes libgc's own <gc.h> and runs three
 * ways: linked with -lgc (Boehm GC: checks the program's own expectations),
 * linked with libgoheap.a, and as the -lgc binary with libgoheap.so
 * preloaded. It prints "collector: goheap" or "collector: libgc" so that the
 * driver can tell the runs apart, then "<name>: N checks ok".
 *
 * Conservative collectors may keep an object alive through a stale word on
 * a stack or in a register, so "collected" is checked on many objects with a
 * threshold, "kept" on every object exactly.
 */
#ifndef GOHEAP_GCCHECK_H
#define GOHEAP_GCCHECK_H

#include "check.h" /* first: it defines _GNU_SOURCE */
#include <gc.h>

/* Which collector serves GC_malloc: goheap when GC_malloc and malloc come
   from the same object (libgoheap.so preloaded, or both linked in from
   libgoheap.a), libgc otherwise. */
static inline const char *collector(void) {
    Dl_info a, b;
    REQUIRE(dladdr((void *)&GC_malloc, &a) && dladdr((void *)&malloc, &b));
    return a.dli_fbase == b.dli_fbase ? "goheap" : "libgc";
}

/* Overwrites a stretch of stack below the caller, so that pointers left in
   dead frames do not keep objects alive. */
static __attribute__((noinline)) void clear_stack(void) {
    volatile char junk[64 * 1024];
    memset((char *)junk, 0, sizeof junk);
    __asm__ volatile("" ::: "memory");
}

/* Several full collections, with the stack cleared first. */
static inline void collect_hard(void) {
    clear_stack();
    for (int i = 0; i < 3; i++)
        GC_gcollect();
}

/* A disappearing link that does not itself keep its object alive: the link
   holds the hidden (complemented) pointer, as libgc's documentation
   suggests; the collector clears it to 0 when the object dies. */
static inline void watch(GC_hidden_pointer *link, void *obj) {
    *link = GC_HIDE_POINTER(obj);
    REQUIRE(GC_general_register_disappearing_link((void **)link, obj) ==
            GC_SUCCESS);
}

static inline int count_cleared(const GC_hidden_pointer *links, int n) {
    int c = 0;
    for (int i = 0; i < n; i++)
        c += links[i] == 0;
    return c;
}

#endif
