/* random-threads.c — many threads, random sizes: bench-malloc-thread's
 * shape (glibc). 8 threads each keep 1024 blocks and replace a random
 * one at each step with a block of 16 bytes–32 KiB, drawn so that small
 * sizes dominate (density 1/size²). Blocks are checked at their first and
 * last word (see common.h); no block crosses threads. */
#include "common.h"

#define THREADS 8
#define SLOTS 1024
#define MIN_SIZE 16
#define MAX_SIZE (32 * 1024)

static long steps_per_thread;
static sums_t thread_sums[THREADS];

/* A size in [MIN_SIZE, MAX_SIZE] with density proportional to 1/size². */
static size_t inverse_square_size(rng_t *rng)
{
    double u = (double)(rng_next(rng) >> 11) / (double)(1ULL << 53);
    double inv = 1.0 / MIN_SIZE - u * (1.0 / MIN_SIZE - 1.0 / MAX_SIZE);
    size_t n = (size_t)(1.0 / inv);
    return n < MIN_SIZE ? MIN_SIZE : n > MAX_SIZE ? MAX_SIZE : n;
}

static void *run(void *arg)
{
    size_t id = (size_t)arg;
    rng_t rng = {id + 1};
    sums_t sums = {0, 0};
    block_t *slots = xmalloc(SLOTS * sizeof *slots);
    memset(slots, 0, SLOTS * sizeof *slots);
    for (long step = 0; step < steps_per_thread; step++)
        replace_ends(&sums, &slots[rng_next(&rng) % SLOTS], inverse_square_size(&rng),
                     (uint64_t)id << 48 | (uint64_t)step);
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i].p != NULL)
            free_ends(&sums, &slots[i]);
    free(slots);
    thread_sums[id] = sums;
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    steps_per_thread = scaled(5L * 1000 * 1000);
    sums_t total = run_threads(THREADS, run, thread_sums);
    return finish("random-threads", &total);
}
