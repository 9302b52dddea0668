/* large.c — large blocks: a working set of 8 blocks of 64 KiB–8 MiB
 * (log-uniform sizes), one replaced at each step. Each new block has every
 * page touched, so the cost is dominated by how the allocator gets memory
 * from the kernel and whether it keeps freed pages for reuse (or hands them
 * back and faults them in again). */
#include "common.h"

#define SLOTS 8

typedef struct {
    void *p;
    size_t n;
    uint64_t tag;
} slot_t;

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long steps = scaled(8L * 1000);
    rng_t rng = {11};
    sums_t sums = {0, 0};
    slot_t slots[SLOTS] = {{0}};
    for (long step = 0; step < steps; step++) {
        slot_t *s = &slots[rng_next(&rng) % SLOTS];
        if (s->p != NULL)
            free_checked(&sums, s->p, s->n, s->tag);
        s->n = rng_size(&rng, 64 * 1024, 8 * 1024 * 1024);
        s->tag = (uint64_t)step;
        s->p = alloc_filled(&sums, s->n, s->tag);
    }
    for (int i = 0; i < SLOTS; i++)
        if (slots[i].p != NULL)
            free_checked(&sums, slots[i].p, slots[i].n, slots[i].tag);
    return finish("large", &sums);
}
