/* xmalloc.c — producers and consumers (xmalloc-test's shape): 2 producer
 * threads allocate small blocks (16–256 bytes) and hand them, 256 at a time,
 * through a locked queue to 2 consumer threads, which check and free them.
 * Every block is freed by a thread other than the one that allocated it,
 * in batches, as in a pipeline that builds messages on one side and drops
 * them on the other. */
#include "common.h"

#define PRODUCERS 2
#define CONSUMERS 2
#define PER_BATCH 256
#define QUEUE 64 /* batches in flight at most */

typedef struct {
    block_t blocks[PER_BATCH];
} batch_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    batch_t *slot[QUEUE];
    size_t head, len;
    int producers_left;
} queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};

static long batches_per_producer;
static sums_t producer_sums[PRODUCERS], consumer_sums[CONSUMERS];

static void put(batch_t *b)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.len == QUEUE)
        pthread_cond_wait(&queue.not_full, &queue.lock);
    queue.slot[(queue.head + queue.len++) % QUEUE] = b;
    pthread_cond_signal(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
}

/* The next batch, or NULL once every producer is done and the queue is empty. */
static batch_t *take(void)
{
    pthread_mutex_lock(&queue.lock);
    while (queue.len == 0 && queue.producers_left > 0)
        pthread_cond_wait(&queue.not_empty, &queue.lock);
    batch_t *b = NULL;
    if (queue.len > 0) {
        b = queue.slot[queue.head];
        queue.head = (queue.head + 1) % QUEUE;
        queue.len--;
        pthread_cond_signal(&queue.not_full);
    }
    pthread_mutex_unlock(&queue.lock);
    return b;
}

static void *producer(void *arg)
{
    size_t id = (size_t)arg;
    sums_t *sums = &producer_sums[id];
    rng_t rng = {id + 1};
    for (long i = 0; i < batches_per_producer; i++) {
        batch_t *b = xmalloc(sizeof *b);
        for (size_t j = 0; j < PER_BATCH; j++) {
            block_t *k = &b->blocks[j];
            k->n = rng_range(&rng, 16, 256);
            k->tag = (uint64_t)id << 48 | ((uint64_t)i * PER_BATCH + j);
            k->p = alloc_ends(sums, k->n, k->tag);
        }
        put(b);
    }
    pthread_mutex_lock(&queue.lock);
    queue.producers_left--;
    pthread_cond_broadcast(&queue.not_empty);
    pthread_mutex_unlock(&queue.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    sums_t *sums = &consumer_sums[(size_t)arg];
    for (batch_t *b; (b = take()) != NULL;) {
        for (size_t j = 0; j < PER_BATCH; j++)
            free_ends(sums, &b->blocks[j]);
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    batches_per_producer = scaled(30L * 1000);
    queue.producers_left = PRODUCERS;
    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (size_t i = 0; i < PRODUCERS; i++)
        start_thread(&p[i], producer, (void *)i);
    for (size_t i = 0; i < CONSUMERS; i++)
        start_thread(&c[i], consumer, (void *)i);
    sums_t total = {0, 0};
    for (size_t i = 0; i < PRODUCERS; i++) {
        join_thread(p[i]);
        sums_add(&total, &producer_sums[i]);
    }
    for (size_t i = 0; i < CONSUMERS; i++) {
        join_thread(c[i]);
        sums_add(&total, &consumer_sums[i]);
    }
    return finish("xmalloc", &total);
}
