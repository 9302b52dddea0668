/* server.c — a server-like mix: waves of 4 worker threads each handle a run
 * of requests. A request allocates an input buffer (256 bytes–8 KiB), a
 * handful of short-lived parse tokens and a response; one response in four
 * is kept in a shared cache, replacing (and freeing) whatever an earlier
 * request left in that slot. The workers then exit and a new wave starts, so
 * cached objects outlive the thread that allocated them and are freed by
 * threads that never saw their allocation. */
#include "common.h"

#define THREADS 4
#define REQUESTS_PER_THREAD 2000
#define CACHE_SLOTS (16 * 1024)
#define STRIPES 64

typedef struct {
    void *p;
    size_t n;
    uint64_t tag;
} entry_t;

static entry_t cache[CACHE_SLOTS];
static pthread_mutex_t stripes[STRIPES];
static pthread_mutex_t sums_lock = PTHREAD_MUTEX_INITIALIZER;
static sums_t total;

typedef struct {
    uint64_t first_tag; /* tags of this worker: first_tag, first_tag+1, ... */
} worker_t;

/* Puts a response into the cache; frees the entry it replaces. */
static void cache_put(sums_t *sums, size_t slot, void *p, size_t n, uint64_t tag)
{
    pthread_mutex_t *lock = &stripes[slot % STRIPES];
    pthread_mutex_lock(lock);
    entry_t old = cache[slot];
    cache[slot] = (entry_t){p, n, tag};
    pthread_mutex_unlock(lock);
    if (old.p != NULL)
        free_checked(sums, old.p, old.n, old.tag);
}

static void handle_request(sums_t *sums, rng_t *rng, uint64_t tag)
{
    size_t in_n = rng_size(rng, 256, 8192);
    void *in = alloc_filled(sums, in_n, tag);
    enum { MAX_TOKENS = 16 };
    void *tokens[MAX_TOKENS];
    size_t token_n[MAX_TOKENS];
    size_t count = rng_range(rng, 4, MAX_TOKENS);
    for (size_t i = 0; i < count; i++) {
        token_n[i] = rng_size(rng, 16, 128);
        tokens[i] = alloc_filled(sums, token_n[i], tag + i);
    }
    size_t out_n = rng_size(rng, 64, 2048);
    void *out = alloc_filled(sums, out_n, tag);
    for (size_t i = 0; i < count; i++)
        free_checked(sums, tokens[i], token_n[i], tag + i);
    free_checked(sums, in, in_n, tag);
    if (rng_next(rng) % 4 == 0)
        cache_put(sums, rng_next(rng) % CACHE_SLOTS, out, out_n, tag);
    else
        free_checked(sums, out, out_n, tag);
}

static void *worker(void *arg)
{
    const worker_t *w = arg;
    rng_t rng = {w->first_tag};
    sums_t sums = {0, 0};
    for (uint64_t r = 0; r < REQUESTS_PER_THREAD; r++)
        handle_request(&sums, &rng, w->first_tag + 64 * r);
    pthread_mutex_lock(&sums_lock);
    sums_add(&total, &sums);
    pthread_mutex_unlock(&sums_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i], NULL);
    long waves = scaled(250);
    for (long wave = 0; wave < waves; wave++) {
        pthread_t threads[THREADS];
        worker_t workers[THREADS];
        for (int t = 0; t < THREADS; t++) {
            workers[t].first_tag = ((uint64_t)(wave * THREADS + t)) << 32;
            start_thread(&threads[t], worker, &workers[t]);
        }
        for (int t = 0; t < THREADS; t++)
            join_thread(threads[t]);
    }
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].p != NULL)
            free_checked(&total, cache[i].p, cache[i].n, cache[i].tag);
    return finish("server", &total);
}
