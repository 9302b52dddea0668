/* larson.c — a server in the shape of the Larson benchmark: 4 lines of
 * worker threads, each line keeping 2000 blocks of 16–1000 bytes. A worker
 * replaces 10,000 random blocks of its line (free, then allocate), then
 * exits and a new worker takes the line over, so most frees hit blocks that
 * an earlier, exited thread allocated. (The original is C++ with sized
 * delete; this one is C, as goheap bench's workloads are.) */
#include "common.h"

#define LINES 4
#define SLOTS 2000
#define STEPS_PER_WORKER 10000

typedef struct {
    block_t slots[SLOTS];
    rng_t rng;
    long generation;
    sums_t sums;
} line_t;

static line_t lines[LINES];

static void *worker(void *arg)
{
    line_t *line = arg;
    uint64_t id = (uint64_t)(line - lines) << 56 | (uint64_t)line->generation << 24;
    for (long step = 0; step < STEPS_PER_WORKER; step++)
        replace_ends(&line->sums, &line->slots[rng_next(&line->rng) % SLOTS],
                     rng_range(&line->rng, 16, 1000), id | (uint64_t)step);
    line->generation++;
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long generations = scaled(400);
    for (size_t l = 0; l < LINES; l++)
        lines[l].rng.state = l + 1;
    for (long g = 0; g < generations; g++) {
        pthread_t threads[LINES];
        for (size_t l = 0; l < LINES; l++)
            start_thread(&threads[l], worker, &lines[l]);
        for (size_t l = 0; l < LINES; l++)
            join_thread(threads[l]);
    }
    sums_t total = {0, 0};
    for (size_t l = 0; l < LINES; l++) {
        for (size_t i = 0; i < SLOTS; i++)
            if (lines[l].slots[i].p != NULL)
                free_ends(&lines[l].sums, &lines[l].slots[i]);
        sums_add(&total, &lines[l].sums);
    }
    return finish("larson", &total);
}
