/* churn.c — small-object churn: one thread keeps a working set of 64 Ki small
 * blocks (8–512 bytes, log-uniform sizes) and replaces a random one at each
 * step, the pattern of programs that build and drop many little objects
 * (strings, list nodes, tree nodes). Every block is verified before it is
 * freed (see common.h). */
#include "common.h"

#define SLOTS (64 * 1024)

typedef struct {
    void *p;
    size_t n;
    uint64_t tag;
} slot_t;

static slot_t slots[SLOTS];

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long steps = scaled(14L * 1000 * 1000);
    rng_t rng = {42};
    sums_t sums = {0, 0};
    for (long step = 0; step < steps; step++) {
        slot_t *s = &slots[rng_next(&rng) % SLOTS];
        if (s->p != NULL)
            free_checked(&sums, s->p, s->n, s->tag);
        s->n = rng_size(&rng, 8, 512);
        s->tag = (uint64_t)step;
        s->p = alloc_filled(&sums, s->n, s->tag);
    }
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i].p != NULL)
            free_checked(&sums, slots[i].p, slots[i].n, slots[i].tag);
    return finish("churn", &sums);
}
