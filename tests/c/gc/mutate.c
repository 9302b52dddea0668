/* mutate.c — mutators that rewrite a live graph with plain C stores while
 * the collector marks beside them (in incremental mode, on goheap, cycles
 * started by the pacer mark concurrently: its dirty-page tracking must
 * catch every store).
 *
 * Each thread owns a forest hanging from its part of a global root table
 * (data segment) and, for a while at a time, from a local variable (stack
 * or register). It races:
 * - allocation of new nodes, linked in anywhere;
 * - moves of a subtree from one slot to another, the new slot written
 *   before the old one is cleared (the store a concurrent mark misses
 *   without a barrier or dirty bits: the subtree's only pointer moves into
 *   a node that may already be scanned);
 * - a subtree held only by a local across allocations, then put back;
 * - drops of subtrees, and garbage.
 * Every node records its parent and slot and a checksum of its id; after
 * every collection the thread walks its forest and checks every node (a
 * node freed too early comes back zeroed or as another node, and fails)
 * and the number of nodes. */
#define GC_THREADS
#include "gccheck.h"
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#define THREADS 3
#define ROOTS_PER_THREAD 64
#define KIDS 4
#define TARGET_NODES 40000
#define CYCLES 150
#define TIME_LIMIT_S 60

struct node {
    struct node *kid[KIDS];
    struct node *parent; /* NULL: hangs from a root slot */
    long slot;           /* index in parent->kid, or in the root table */
    uint64_t id, check;
};

static struct node *roots[THREADS * ROOTS_PER_THREAD];

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct mutator {
    int t;
    uint64_t rng, next_id;
    long nodes, walks, bad;
};

static uint64_t rnd(struct mutator *m) { return mix(m->rng += 0x9e3779b97f4a7c15ull); }

static struct node **slot_of(struct mutator *m, struct node *parent, long slot) {
    return parent ? &parent->kid[slot] : &roots[m->t * ROOTS_PER_THREAD + slot];
}

static struct node *new_node(struct mutator *m) {
    struct node *n = GC_MALLOC(sizeof *n);
    REQUIRE(n);
    n->id = m->next_id++;
    n->check = mix(n->id);
    return n;
}

static void attach(struct mutator *m, struct node *n, struct node *parent, long slot) {
    n->parent = parent;
    n->slot = slot;
    *slot_of(m, parent, slot) = n;
}

/* A random node of the forest (NULL for "a root slot"), by a random walk. */
static struct node *pick(struct mutator *m) {
    struct node *n = roots[m->t * ROOTS_PER_THREAD + rnd(m) % ROOTS_PER_THREAD];
    for (int depth = rnd(m) % 12; n && depth > 0; depth--) {
        struct node *k = n->kid[rnd(m) % KIDS];
        if (!k)
            break;
        n = k;
    }
    return n;
}

static int is_inside(struct node *n, struct node *subtree) {
    for (; n; n = n->parent)
        if (n == subtree)
            return 1;
    return 0;
}

static long count(struct node *n) {
    if (!n)
        return 0;
    long c = 1;
    for (int i = 0; i < KIDS; i++)
        c += count(n->kid[i]);
    return c;
}

/* Checks the subtree at *slot of (parent, index); returns its node count. */
static long walk(struct mutator *m, struct node *n, struct node *parent, long slot) {
    if (!n)
        return 0;
    if (n->parent != parent || n->slot != slot || n->check != mix(n->id)) {
        m->bad++;
        return 0;
    }
    long c = 1;
    for (int i = 0; i < KIDS; i++)
        c += walk(m, n->kid[i], n, i);
    return c;
}

static void check_forest(struct mutator *m) {
    long c = 0;
    for (long r = 0; r < ROOTS_PER_THREAD; r++)
        c += walk(m, roots[m->t * ROOTS_PER_THREAD + r], NULL, r);
    if (c != m->nodes)
        m->bad++;
    m->walks++;
}

/* An empty slot: a kid slot of a random node, or a root slot. */
static int free_slot(struct mutator *m, struct node **parent, long *slot) {
    struct node *p = pick(m);
    long s = rnd(m) % (p ? KIDS : ROOTS_PER_THREAD);
    if (*slot_of(m, p, s))
        return 0;
    *parent = p;
    *slot = s;
    return 1;
}

static void grow(struct mutator *m) {
    struct node *p;
    long s;
    if (free_slot(m, &p, &s)) {
        attach(m, new_node(m), p, s);
        m->nodes++;
    }
}

/* Moves a subtree: the new slot is written first, the old one cleared
   after. */
static void move(struct mutator *m) {
    struct node *x = pick(m), *p;
    long s;
    if (!x || !free_slot(m, &p, &s) || is_inside(p, x))
        return;
    struct node **from = slot_of(m, x->parent, x->slot);
    attach(m, x, p, s);
    *from = NULL;
}

/* Holds a subtree in a local only, across allocations, then puts it back. */
static void hold(struct mutator *m) {
    struct node *x = pick(m);
    if (!x)
        return;
    *slot_of(m, x->parent, x->slot) = NULL;
    for (int i = 0; i < 64; i++)
        GC_MALLOC(48 + 16 * (i % 8));
    struct node *p;
    long s;
    while (!free_slot(m, &p, &s))
        ;
    attach(m, x, p, s);
}

static void drop(struct mutator *m) {
    struct node *x = pick(m);
    if (!x || m->nodes < TARGET_NODES / 2)
        return;
    m->nodes -= count(x);
    *slot_of(m, x->parent, x->slot) = NULL;
}

static void *mutate(void *arg) {
    struct mutator *m = arg;
    GC_word seen = GC_get_gc_no();
    time_t deadline = time(NULL) + TIME_LIMIT_S;
    while (GC_get_gc_no() < CYCLES && time(NULL) < deadline) {
        uint64_t r = rnd(m) % 100;
        if (r < 45)
            grow(m);
        else if (r < 80)
            move(m);
        else if (r < 82)
            hold(m);
        else if (r < 90 && m->nodes > TARGET_NODES)
            drop(m);
        else
            GC_MALLOC_ATOMIC(64 + r); /* garbage */
        if (GC_get_gc_no() != seen) {
            seen = GC_get_gc_no();
            check_forest(m);
        }
    }
    check_forest(m);
    return NULL;
}

int main(void) {
    GC_INIT();
    GC_enable_incremental(); /* goheap: cycles mark beside the threads */
    printf("collector: %s\n", collector());
    struct mutator ms[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        ms[t] = (struct mutator){.t = t, .rng = 1000 + t, .next_id = 1};
        REQUIRE(pthread_create(&th[t], NULL, mutate, &ms[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        REQUIRE(pthread_join(th[t], NULL) == 0);
        CHECKF(ms[t].bad == 0, "thread %d: %ld broken checks in %ld walks", t, ms[t].bad,
               ms[t].walks);
        CHECKF(ms[t].walks >= 10, "thread %d: only %ld collections seen", t, ms[t].walks);
    }
    printf("%lu collections, incremental %d\n", (unsigned long)GC_get_gc_no(),
           GC_is_incremental_mode());
    return check_report("mutate");
}
