/* api.c — the rest of libgc's core API: GC_realloc (kind kept, contents
 * kept, NULL and 0 cases), GC_strdup/GC_strndup, GC_base/GC_size, the heap
 * figures and GC_get_gc_no, GC_enable/GC_disable, out of memory through
 * GC_set_max_heap_size and the oom function, the warn proc, GC_get_version.
 *
 * With an argument it instead misuses the API (the driver checks goheap's
 * message and the abort): "unsupported" calls GC_memalign (libgc has it,
 * goheap does not), "bad-free" frees an interior pointer. */
#include "gccheck.h"

static size_t oom_request;
static char oom_marker[16];
static void *GC_CALLBACK my_oom(size_t n) {
    oom_request = n;
    return oom_marker;
}

static void GC_CALLBACK my_warn(char *msg, GC_word arg) {
    (void)msg;
    (void)arg;
}

int main(int argc, char **argv) {
    GC_INIT();
    printf("collector: %s\n", collector());
    if (argc > 1 && strcmp(argv[1], "unsupported") == 0) {
        void *p = GC_memalign(64, 100);
        printf("GC_memalign returned %p\n", p);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "bad-free") == 0) {
        char *p = GC_MALLOC(64);
        GC_FREE(p + 8);
        printf("GC_free of an interior pointer returned\n");
        return 0;
    }

    /* GC_base, GC_size. */
    char *p = GC_MALLOC(100);
    REQUIRE(p);
    CHECK(GC_base(p) == p && GC_base(p + 50) == p && GC_base(p + 99) == p);
    CHECK(GC_size(p) >= 100);
    static long not_gc;
    CHECK(GC_base(&not_gc) == NULL);
    char *m = malloc(32);
    CHECK(GC_base(m) == NULL);
    free(m);
    for (int i = 0; i < 100; i++)
        CHECK(p[i] == 0); /* GC_malloc zeroes */

    /* GC_realloc: grows keeping contents, shrinks, NULL and 0. */
    for (int i = 0; i < 100; i++)
        p[i] = (char)i;
    char *q = GC_REALLOC(p, 5000);
    REQUIRE(q);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= q[i] == (char)i;
    CHECK(same);
    CHECK(GC_size(q) >= 5000);
    char *r = GC_REALLOC(q, 60);
    REQUIRE(r);
    same = 1;
    for (int i = 0; i < 60; i++)
        same &= r[i] == (char)i;
    CHECK(same);
    char *n = GC_REALLOC(NULL, 40);
    CHECK(n && GC_base(n) == n);
    CHECK(GC_REALLOC(n, 0) == NULL);
    /* Realloc keeps the kind: an atomic object stays unscanned. */
    void **atomic = GC_MALLOC_ATOMIC(16);
    REQUIRE(atomic);
    atomic = GC_REALLOC(atomic, 4096);
    REQUIRE(atomic);
    GC_hidden_pointer link;
    atomic[0] = GC_MALLOC(32);
    watch(&link, atomic[0]);
    collect_hard();
    CHECK(link == 0);
    GC_reachable_here(atomic);

    /* Strings. */
    char *s = GC_STRDUP("hello, collector");
    CHECK(s && strcmp(s, "hello, collector") == 0 && GC_base(s) == s);
    char *t = GC_STRNDUP("abcdef", 3);
    CHECK(t && strcmp(t, "abc") == 0);

    /* Figures. */
    CHECK(GC_get_heap_size() > 0);
    size_t total = GC_get_total_bytes();
    for (int i = 0; i < 1000; i++)
        GC_MALLOC(1000);
    CHECK(GC_get_total_bytes() >= total + 1000 * 1000);
    CHECK(GC_get_free_bytes() <= GC_get_heap_size());
    GC_word gc = GC_get_gc_no();
    GC_gcollect();
    CHECK(GC_get_gc_no() == gc + 1);

    /* Disabled: no collection, not even an explicit one; nesting counts. */
    GC_disable();
    GC_disable();
    CHECK(GC_is_disabled());
    gc = GC_get_gc_no();
    GC_gcollect();
    GC_enable();
    GC_gcollect();
    CHECK(GC_get_gc_no() == gc);
    GC_enable();
    CHECK(!GC_is_disabled());
    GC_gcollect();
    CHECK(GC_get_gc_no() == gc + 1);

    /* Warn proc and version. */
    GC_warn_proc old = GC_get_warn_proc();
    CHECK(old != NULL);
    GC_set_warn_proc(my_warn);
    CHECK(GC_get_warn_proc() == my_warn);
    GC_set_warn_proc(old);
    CHECK(GC_get_version() >> 16 == 8);

    /* Out of memory: the oom function's result is returned; by default
       NULL. */
    GC_set_max_heap_size(GC_get_heap_size() + (64 << 20));
    GC_oom_func default_oom = GC_get_oom_fn();
    CHECK(default_oom != NULL);
    GC_set_oom_fn(my_oom);
    CHECK(GC_get_oom_fn() == my_oom);
    /* (opaque: GC_malloc is declared malloc-like, so the compiler would
       assume its result differs from every existing object) */
    void *big = opaque_ptr(GC_MALLOC(256 << 20));
    CHECKF((uintptr_t)big == (uintptr_t)opaque_ptr(oom_marker) && oom_request >= (256u << 20), "big=%p marker=%p request=%zu", big, (void *)oom_marker, oom_request);
    GC_set_oom_fn(default_oom);
    GC_set_warn_proc(GC_ignore_warn_proc);
    CHECK(GC_MALLOC_ATOMIC(256 << 20) == NULL);
    CHECK(GC_MALLOC(1000) != NULL); /* small requests still fit */
    return check_report("api");
}
