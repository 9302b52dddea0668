/* small-pairs-2t.c — small malloc/free pairs on two threads: the loop of
 * small-pairs.c (free one of 4 live blocks, allocate 16–512 bytes in its
 * place) run by two threads at once, each on its own blocks. Shows what
 * per-thread state costs when threads run side by side (no block crosses
 * threads). */
#include "common.h"

#define THREADS 2

static long steps_per_thread;
static sums_t thread_sums[THREADS];

static void *run(void *arg)
{
    size_t id = (size_t)arg;
    thread_sums[id] = small_pairs_loop(id + 1, steps_per_thread);
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    steps_per_thread = scaled(25L * 1000 * 1000);
    sums_t total = run_threads(THREADS, run, thread_sums);
    return finish("small-pairs-2t", &total);
}
