/* fragment.c — fragmentation, then reuse: each round allocates 400 Ki small
 * blocks (16–256 bytes), frees three in four at random, leaving the heap full
 * of holes around the survivors, then allocates blocks of other sizes (32
 * bytes–2 KiB) adding up to the volume just freed, and finally frees
 * everything of the round but a few survivors that stay for good. An
 * allocator that reuses the holes keeps its peak RSS (reported next to the
 * time) close to the live data; one that does not keeps growing. */
#include "common.h"

#define SMALL (400 * 1024)

static block_t small[SMALL];

/* Frees block b (verified) and clears it. */
static void release(sums_t *sums, block_t *b)
{
    free_checked(sums, b->p, b->n, b->tag);
    b->p = NULL;
}

/* Phase 3 of a round: allocates blocks of 32 B–2 KiB adding up to `volume`
 * bytes into a growing array (returned, with its count in *count). */
static block_t *refill(sums_t *sums, rng_t *rng, size_t volume, uint64_t tag, size_t *count)
{
    size_t cap = 1024, n = 0;
    block_t *blocks = xmalloc(cap * sizeof *blocks);
    for (size_t done = 0; done < volume; n++) {
        if (n == cap)
            blocks = xrealloc(blocks, (cap *= 2) * sizeof *blocks);
        size_t size = rng_size(rng, 32, 2048);
        blocks[n] = (block_t){alloc_filled(sums, size, tag + n), size, tag + n};
        done += size;
    }
    *count = n;
    return blocks;
}

static void round_of(sums_t *sums, rng_t *rng, uint64_t round, block_t **kept, size_t *kept_n)
{
    uint64_t tag = round << 40;
    for (size_t i = 0; i < SMALL; i++) {
        size_t n = rng_size(rng, 16, 256);
        small[i] = (block_t){alloc_filled(sums, n, tag + i), n, tag + i};
    }
    size_t freed = 0;
    for (size_t i = 0; i < SMALL; i++)
        if (rng_next(rng) % 4 != 0) {
            freed += small[i].n;
            release(sums, &small[i]);
        }
    size_t count;
    block_t *big = refill(sums, rng, freed, tag + SMALL, &count);
    for (size_t i = 0; i < count; i++)
        release(sums, &big[i]);
    free(big);
    for (size_t i = 0; i < SMALL; i++)
        if (small[i].p != NULL) {
            if (rng_next(rng) % 64 == 0 && *kept_n < SMALL)
                (*kept)[(*kept_n)++] = small[i];
            else
                release(sums, &small[i]);
        }
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long rounds = scaled(12);
    rng_t rng = {5};
    sums_t sums = {0, 0};
    block_t *kept = xmalloc(SMALL * sizeof *kept);
    size_t kept_n = 0;
    for (long r = 0; r < rounds; r++)
        round_of(&sums, &rng, (uint64_t)r, &kept, &kept_n);
    for (size_t i = 0; i < kept_n; i++)
        release(&sums, &kept[i]);
    free(kept);
    return finish("fragment", &sums);
}
