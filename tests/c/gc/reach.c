/* reach.c — reachability under libgc's root rules: globals, the stack,
 * uncollectable objects and GC_add_roots ranges keep objects (and what they
 * reach) alive, interior pointers count, cycles die, and neither atomic
 * objects nor the malloc heap are scanned. */
#include "gccheck.h"

#define N 1000

struct node {
    struct node *next;
    long id;
    long payload[6];
};

static struct node *g_list;     /* a root in .bss */
static char *g_interior;        /* points 40 bytes into an object */

static struct node *make_list(int n, long base) {
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *x = GC_MALLOC(sizeof *x);
        REQUIRE(x);
        x->next = head;
        x->id = base + i;
        for (int k = 0; k < 6; k++)
            x->payload[k] = x->id * 7 + k;
        head = x;
    }
    return head;
}

static int list_ok(const struct node *x, int n, long base) {
    for (int i = n - 1; i >= 0; i--, x = x->next) {
        if (!x || x->id != base + i)
            return 0;
        for (int k = 0; k < 6; k++)
            if (x->payload[k] != x->id * 7 + k)
                return 0;
    }
    return x == NULL;
}

/* Allocation churn, so that freed memory gets reused (and a wrongly freed
   object gets overwritten). */
static __attribute__((noinline)) void churn(void) {
    for (int i = 0; i < 200000; i++) {
        long *p = GC_MALLOC(64);
        REQUIRE(p);
        memset(p, 0xAB, 64);
    }
}

static GC_hidden_pointer cycle_links[N];
static __attribute__((noinline)) void make_cycles(void) {
    for (int i = 0; i < N; i++) {
        struct node *a = GC_MALLOC(sizeof *a), *b = GC_MALLOC(sizeof *b);
        REQUIRE(a && b);
        a->next = b;
        b->next = a;
        watch(&cycle_links[i], a);
    }
}

/* Fills `holder` with the only pointers to N new scanned objects, each
   watched by a link. */
static __attribute__((noinline)) void fill_watched(void **holder, GC_hidden_pointer *links) {
    REQUIRE(holder);
    for (int i = 0; i < N; i++) {
        holder[i] = GC_MALLOC(32);
        REQUIRE(holder[i]);
        watch(&links[i], holder[i]);
    }
}

static GC_hidden_pointer atomic_links[N];
static GC_hidden_pointer malloc_links[N];
static GC_hidden_pointer rooted_links[N];

static GC_hidden_pointer kept_links[3];

int main(void) {
    GC_INIT();
    printf("collector: %s\n", collector());

    /* Globals. */
    g_list = make_list(N, 0);
    /* The stack. */
    struct node *volatile on_stack = make_list(N, 100000);
    /* An uncollectable object, itself referenced only from malloc memory,
       holding the only pointer to a list. */
    struct node ***hidden = malloc(sizeof *hidden);
    REQUIRE(hidden);
    *hidden = GC_MALLOC_UNCOLLECTABLE(sizeof(struct node *));
    REQUIRE(*hidden);
    **hidden = make_list(N, 200000);
    /* Interior pointer only. */
    struct node *inner = GC_MALLOC(sizeof *inner);
    REQUIRE(inner);
    inner->id = 4242;
    g_interior = (char *)inner + 40;
    watch(&kept_links[0], inner);
    inner = NULL;

    make_cycles();
    /* An atomic block, and malloc memory, hold the only pointers. */
    void *volatile atomic_holder = GC_MALLOC_ATOMIC(N * sizeof(void *));
    fill_watched(atomic_holder, atomic_links);
    void **malloc_holder = malloc(N * sizeof(void *));
    fill_watched(malloc_holder, malloc_links);

    collect_hard();
    churn();
    collect_hard();

    CHECK(list_ok(g_list, N, 0));
    CHECK(list_ok(on_stack, N, 100000));
    CHECK(list_ok(**hidden, N, 200000));
    CHECK(kept_links[0] != 0);
    CHECK(((struct node *)(g_interior - 40))->id == 4242);
    int cycles = count_cleared(cycle_links, N);
    CHECKF(cycles >= N * 9 / 10, "%d of %d cycles collected", cycles, N);
    int atomic = count_cleared(atomic_links, N);
    CHECKF(atomic >= N * 9 / 10, "%d of %d objects behind an atomic block collected", atomic, N);
    int mallocd = count_cleared(malloc_links, N);
    CHECKF(mallocd >= N * 9 / 10, "%d of %d objects behind malloc memory collected", mallocd, N);
    CHECK(GC_base(atomic_holder) == atomic_holder);

    /* GC_add_roots: malloc memory becomes a root, until GC_remove_roots. */
    void **region = malloc(N * sizeof(void *));
    GC_add_roots(region, region + N);
    fill_watched(region, rooted_links);
    collect_hard();
    churn();
    collect_hard();
    CHECK(count_cleared(rooted_links, N) == 0);
    GC_remove_roots(region, region + N);
    collect_hard();
    int unrooted = count_cleared(rooted_links, N);
    CHECKF(unrooted >= N * 9 / 10, "%d of %d objects collected after GC_remove_roots",
           unrooted, N);
    free(region);

    /* Dropping the roots lets the lists go. */
    GC_hidden_pointer list_links[3];
    watch(&list_links[0], g_list);
    watch(&list_links[1], (void *)on_stack);
    watch(&list_links[2], **hidden);
    g_list = NULL;
    on_stack = NULL;
    GC_FREE(*hidden);
    free(hidden);
    free(malloc_holder);
    collect_hard();
    CHECKF(count_cleared(list_links, 3) >= 2, "%d of 3 dropped lists collected",
           count_cleared(list_links, 3));
    return check_report("reach");
}
