/* final.c — libgc's finalizers and disappearing links: topological order,
 * exactly once, the old finalizer returned through the out parameters,
 * _no_order and _ignore_self, automatic invocation vs GC_finalize_on_demand
 * with GC_invoke_finalizers and the notifier, and links cleared when their
 * object dies (before its finalizer resurrects it). */
#include "gccheck.h"

#define N 200

struct obj {
    struct obj *ref;
    long id;
    long alive; /* 1 until finalized */
};

static int finalized[8 * N];       /* times each id was finalized */
static int order_violations;       /* a referent finalized before its referrer */
static long next_id;

static void GC_CALLBACK fin(void *p, void *cd) {
    struct obj *o = p;
    if (!(o->id >= 0 && o->id < 8 * N && cd == (void *)(o->id + 1))) fprintf(stderr, "fin %p id %ld cd %p alive %ld\n", p, o->id, cd, o->alive);
    REQUIRE(o->id >= 0 && o->id < 8 * N && cd == (void *)(o->id + 1));
    finalized[o->id]++;
    /* Whatever it points to is intact and not finalized yet (normal mode). */
    if (o->ref && o->ref != o && !o->ref->alive)
        order_violations++;
    o->alive = 0;
}

static struct obj *new_obj(void) {
    struct obj *o = GC_MALLOC(sizeof *o);
    REQUIRE(o);
    o->id = next_id++;
    o->alive = 1;
    return o;
}

static void reg(struct obj *o, void (*how)(void *, GC_finalization_proc, void *,
                                           GC_finalization_proc *, void **)) {
    GC_finalization_proc ofn = (GC_finalization_proc)1;
    void *ocd = (void *)1;
    how(o, fin, (void *)(o->id + 1), &ofn, &ocd);
    REQUIRE(ofn == NULL && ocd == NULL);
}

static int count(long from, long to, int times) {
    int c = 0;
    for (long i = from; i < to; i++)
        c += finalized[i] == times;
    return c;
}

/* Chains a -> b, both finalizable (normal mode). */
static __attribute__((noinline)) void make_chains(void) {
    for (int i = 0; i < N; i++) {
        struct obj *a = new_obj(), *b = new_obj();
        a->ref = b;
        reg(a, GC_register_finalizer);
        reg(b, GC_register_finalizer);
    }
}

/* Two-object cycles with no_order finalizers; self-cycles with ignore_self. */
static __attribute__((noinline)) void make_cycles(long *first) {
    *first = next_id;
    for (int i = 0; i < N / 2; i++) {
        struct obj *a = new_obj(), *b = new_obj();
        a->ref = b;
        b->ref = a;
        reg(a, GC_register_finalizer_no_order);
        reg(b, GC_register_finalizer_no_order);
    }
    for (int i = 0; i < N; i++) {
        struct obj *s = new_obj();
        s->ref = s;
        reg(s, GC_register_finalizer_ignore_self);
    }
}

static GC_hidden_pointer links[N];
static int finalized_with_link_set;
static void GC_CALLBACK fin_link(void *p, void *cd) {
    (void)p;
    GC_hidden_pointer *link = cd;
    if (*link != 0)
        finalized_with_link_set++;
}

static __attribute__((noinline)) void make_linked(void) {
    for (int i = 0; i < N; i++) {
        void *o = GC_MALLOC(16);
        REQUIRE(o);
        watch(&links[i], o);
        GC_REGISTER_FINALIZER(o, fin_link, &links[i], NULL, NULL);
    }
}

static int notified;
static void GC_CALLBACK notifier(void) { notified++; }

int main(void) {
    GC_INIT();
    printf("collector: %s\n", collector());

    /* Out parameters: replacing and cancelling return the old pair. */
    struct obj *o = new_obj();
    reg(o, GC_register_finalizer);
    GC_finalization_proc ofn = NULL;
    void *ocd = NULL;
    GC_register_finalizer(o, NULL, NULL, &ofn, &ocd);
    CHECK(ofn == fin && ocd == (void *)(o->id + 1));
    GC_register_finalizer(o, NULL, NULL, &ofn, &ocd);
    CHECK(ofn == NULL && ocd == NULL);
    o = NULL;

    /* Chains: every referrer is finalized before its referent. */
    long chains_from = next_id;
    make_chains();
    for (int round = 0; round < 6; round++)
        collect_hard();
    CHECK(order_violations == 0);
    int once = count(chains_from, chains_from + 2 * N, 1);
    CHECKF(once >= 2 * N * 9 / 10, "%d of %d chain objects finalized", once, 2 * N);
    CHECK(count(chains_from, chains_from + 2 * N, 2) == 0);
    /* The referents go in a later cycle than their referrers: after the
       first round at most the referrers can have been finalized. */

    /* no_order cycles and ignore_self self-cycles are finalized. */
    long cycles_from;
    make_cycles(&cycles_from);
    for (int round = 0; round < 3; round++)
        collect_hard();
    int cyc = count(cycles_from, next_id, 1);
    CHECKF(cyc >= (next_id - cycles_from) * 9 / 10, "%d of %ld cycle objects finalized",
           cyc, next_id - cycles_from);
    CHECK(count(0, next_id, 2) == 0 && count(0, next_id, 3) == 0);

    /* Links are cleared before the finalizer runs. */
    make_linked();
    collect_hard();
    collect_hard();
    int cleared = count_cleared(links, N);
    CHECKF(cleared >= N * 9 / 10, "%d of %d links cleared", cleared, N);
    CHECK(finalized_with_link_set == 0);

    /* GC_register_disappearing_link: a link inside an object; duplicates;
       unregistering. */
    void **holder = GC_MALLOC(2 * sizeof(void *));
    REQUIRE(holder);
    CHECK(GC_register_disappearing_link(&holder[0]) == GC_SUCCESS);
    CHECK(GC_register_disappearing_link(&holder[0]) == GC_DUPLICATE);
    CHECK(GC_unregister_disappearing_link(&holder[0]) == 1);
    CHECK(GC_unregister_disappearing_link(&holder[0]) == 0);
    GC_hidden_pointer stay;
    void *kept = GC_MALLOC(16);
    watch(&stay, kept);
    collect_hard();
    CHECK(stay == GC_HIDE_POINTER(kept));
    GC_reachable_here(kept);

    /* On demand: nothing runs by itself; the notifier says so;
       GC_invoke_finalizers runs them, exactly once. */
    GC_set_finalize_on_demand(1);
    GC_set_finalizer_notifier(notifier);
    CHECK(GC_get_finalize_on_demand() == 1 && GC_get_finalizer_notifier() == notifier);
    long demand_from = next_id;
    for (int i = 0; i < N; i++)
        reg(new_obj(), GC_register_finalizer);
    collect_hard();
    for (int i = 0; i < 1000; i++)
        GC_MALLOC(100);
    CHECK(count(demand_from, next_id, 1) == 0);
    CHECK(GC_should_invoke_finalizers());
    CHECK(notified > 0);
    int ran = GC_invoke_finalizers();
    CHECKF(ran >= N * 9 / 10, "GC_invoke_finalizers ran %d", ran);
    CHECK(count(demand_from, next_id, 1) == ran);
    CHECK(GC_invoke_finalizers() == 0);
    CHECK(!GC_should_invoke_finalizers());
    GC_set_finalize_on_demand(0);
    return check_report("final");
}
