/* parallel.c — many threads allocating at once: 8 threads (more than this
 * machine's cores, as in a busy server) each churn their own working set of
 * 8 Ki blocks (32 bytes–1 KiB). One replacement in 16 swaps the new block
 * with a shared exchange slot instead, so the thread takes over a block some
 * other thread allocated and later frees it (remote frees under contention). */
#include "common.h"
#include <stdatomic.h>

#define THREADS 8
#define SLOTS (8 * 1024)
#define EXCHANGE 256
#define HEADER 16 /* each block starts with its size and tag */

static _Atomic(unsigned char *) exchange[EXCHANGE];
static long steps_per_thread;
static sums_t thread_sums[THREADS];

/* Allocates a block of n bytes: header, then the pattern of `tag`. */
static unsigned char *new_block(sums_t *sums, size_t n, uint64_t tag)
{
    unsigned char *p = xmalloc(n);
    memcpy(p, &n, 8);
    memcpy(p + 8, &tag, 8);
    sums->written += fill(p + HEADER, n - HEADER, tag);
    return p;
}

static void free_block(sums_t *sums, unsigned char *p)
{
    size_t n;
    uint64_t tag;
    memcpy(&n, p, 8);
    memcpy(&tag, p + 8, 8);
    if (n < HEADER || n > 1024)
        fail("block %p has a corrupted header (size %zu)", (void *)p, n);
    sums->read += check(p + HEADER, n - HEADER, tag);
    free(p);
}

static void *churn(void *arg)
{
    size_t id = (size_t)arg;
    sums_t *sums = &thread_sums[id];
    rng_t rng = {id + 1};
    unsigned char **slots = xmalloc(SLOTS * sizeof *slots);
    memset(slots, 0, SLOTS * sizeof *slots);
    for (long step = 0; step < steps_per_thread; step++) {
        unsigned char **s = &slots[rng_next(&rng) % SLOTS];
        if (*s != NULL)
            free_block(sums, *s);
        uint64_t tag = ((uint64_t)id << 48) | (uint64_t)step;
        *s = new_block(sums, rng_size(&rng, 32, 1024), tag);
        if (step % 16 == 0)
            *s = atomic_exchange(&exchange[rng_next(&rng) % EXCHANGE], *s);
    }
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i] != NULL)
            free_block(sums, slots[i]);
    free(slots);
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    steps_per_thread = scaled(2500L * 1000);
    pthread_t threads[THREADS];
    for (size_t t = 0; t < THREADS; t++)
        start_thread(&threads[t], churn, (void *)t);
    sums_t total = {0, 0};
    for (size_t t = 0; t < THREADS; t++) {
        join_thread(threads[t]);
        sums_add(&total, &thread_sums[t]);
    }
    for (size_t i = 0; i < EXCHANGE; i++)
        if (exchange[i] != NULL)
            free_block(&total, exchange[i]);
    return finish("parallel", &total);
}
