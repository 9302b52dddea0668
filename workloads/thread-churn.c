/* thread-churn.c — thread churn: short-lived threads, started four at a time
 * and joined, each allocating 400 small blocks (16–512 bytes). A thread frees
 * three in four of its blocks itself and hands the rest back to the main
 * thread, which frees them after the thread is gone. This exercises what an
 * allocator does when a thread starts (per-thread caches) and exits (giving
 * their memory back), thousands of times. */
#include "common.h"

#define BATCH 4
#define BLOCKS 400

typedef struct {
    uint64_t first_tag;
    sums_t sums;
    size_t kept;
    void *p[BLOCKS];
    size_t n[BLOCKS];
    uint64_t tag[BLOCKS];
} job_t;

static void *short_lived(void *arg)
{
    job_t *job = arg;
    rng_t rng = {job->first_tag};
    for (size_t i = 0; i < BLOCKS; i++) {
        job->n[i] = rng_size(&rng, 16, 512);
        job->tag[i] = job->first_tag + i;
        job->p[i] = alloc_filled(&job->sums, job->n[i], job->tag[i]);
    }
    job->kept = 0;
    for (size_t i = 0; i < BLOCKS; i++) {
        if (rng_next(&rng) % 4 == 0) {
            size_t k = job->kept++;
            job->p[k] = job->p[i], job->n[k] = job->n[i], job->tag[k] = job->tag[i];
        } else {
            free_checked(&job->sums, job->p[i], job->n[i], job->tag[i]);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long batches = scaled(6000);
    sums_t total = {0, 0};
    static job_t jobs[BATCH];
    for (long b = 0; b < batches; b++) {
        pthread_t threads[BATCH];
        for (int t = 0; t < BATCH; t++) {
            jobs[t] = (job_t){.first_tag = ((uint64_t)(b * BATCH + t)) << 20};
            start_thread(&threads[t], short_lived, &jobs[t]);
        }
        for (int t = 0; t < BATCH; t++) {
            join_thread(threads[t]);
            for (size_t i = 0; i < jobs[t].kept; i++)
                free_checked(&total, jobs[t].p[i], jobs[t].n[i], jobs[t].tag[i]);
            sums_add(&total, &jobs[t].sums);
        }
    }
    return finish("thread-churn", &total);
}
