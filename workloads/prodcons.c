/* prodcons.c — a producer→consumer pair: one thread allocates messages
 * (16 bytes–4 KiB) and passes them through a bounded lock-free queue to a
 * second thread, which verifies and frees them. Every block is freed by a
 * thread other than the one that allocated it (remote frees), the pattern of
 * pipelines and message-passing programs. */
#include "common.h"
#include <sched.h>
#include <stdatomic.h>

#define RING 1024 /* queue capacity, a power of two */

typedef struct {
    void *p;
    size_t n;
    uint64_t tag;
} msg_t;

static msg_t ring[RING];
static _Atomic size_t head; /* next slot the consumer reads */
static _Atomic size_t tail; /* next slot the producer writes */
static long messages;
static sums_t producer_sums, consumer_sums;

static void *producer(void *arg)
{
    (void)arg;
    rng_t rng = {7};
    for (long i = 0; i < messages; i++) {
        size_t t = atomic_load_explicit(&tail, memory_order_relaxed);
        while (t - atomic_load_explicit(&head, memory_order_acquire) == RING)
            sched_yield();
        msg_t *m = &ring[t % RING];
        m->n = rng_size(&rng, 16, 4096);
        m->tag = (uint64_t)i;
        m->p = alloc_filled(&producer_sums, m->n, m->tag);
        atomic_store_explicit(&tail, t + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (long i = 0; i < messages; i++) {
        size_t h = atomic_load_explicit(&head, memory_order_relaxed);
        while (atomic_load_explicit(&tail, memory_order_acquire) == h)
            sched_yield();
        msg_t *m = &ring[h % RING];
        if (m->tag != (uint64_t)i)
            fail("message %ld arrived as %llu", i, (unsigned long long)m->tag);
        free_checked(&consumer_sums, m->p, m->n, m->tag);
        atomic_store_explicit(&head, h + 1, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    messages = scaled(9L * 1000 * 1000);
    pthread_t p, c;
    start_thread(&p, producer, NULL);
    start_thread(&c, consumer, NULL);
    join_thread(p);
    join_thread(c);
    sums_t total = producer_sums;
    sums_add(&total, &consumer_sums);
    return finish("prodcons", &total);
}
