/*
 * threads.c — many pthreads allocating, handing blocks to each other and
 * freeing them on other threads, with contents checked at every step.
 *
 * Each worker allocates blocks of mixed sizes (mostly small, some medium and
 * large, some aligned), stamps them with a pattern derived from (size, seed),
 * keeps some in a local pool freed in random order, reallocs some, and pushes
 * the rest into a shared mailbox from which every thread pops and frees.
 * Threads are also created and exit repeatedly while others run, so goheap's
 * per-thread caches are set up and torn down under load.
 */
#define _GNU_SOURCE
#include "check.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

enum {
    THREADS = 8,
    ROUNDS = 3,
    ITERS = 40000,
    POOL = 256,
    MAILBOX = 4096,
};

typedef struct {
    size_t size;
    uint64_t seed;
    /* data follows */
} hdr_t;

static pthread_mutex_t mbox_lock = PTHREAD_MUTEX_INITIALIZER;
static hdr_t *mbox[MAILBOX];
static size_t mbox_len;
static atomic_ulong failures;
static atomic_ulong cross_frees;

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void stamp(hdr_t *h, size_t size, uint64_t seed) {
    h->size = size;
    h->seed = seed;
    unsigned char *d = (unsigned char *)(h + 1);
    size_t n = size - sizeof(hdr_t);
    /* Stamp the first 64 bytes and every 61st after (cheap for big blocks;
       the stamped positions do not depend on the size, so a realloc prefix
       can be checked). */
    for (size_t i = 0; i < n; i += (i < 64) ? 1 : 61)
        d[i] = (unsigned char)(seed * 31 + i);
}

static int intact(const hdr_t *h) {
    const unsigned char *d = (const unsigned char *)(h + 1);
    size_t n = h->size - sizeof(hdr_t);
    for (size_t i = 0; i < n; i += (i < 64) ? 1 : 61)
        if (d[i] != (unsigned char)(h->seed * 31 + i))
            return 0;
    return 1;
}

static void fail(const char *what, const void *p) {
    atomic_fetch_add(&failures, 1);
    fprintf(stderr, "threads: %s at %p\n", what, p);
}

static size_t pick_size(uint64_t *s) {
    uint64_t r = rng(s);
    switch (r % 100) {
    case 0:
        return sizeof(hdr_t) + (size_t)(rng(s) % (4 << 20));   /* large */
    case 1 ... 9:
        return sizeof(hdr_t) + (size_t)(rng(s) % 65536);       /* medium */
    default:
        return sizeof(hdr_t) + (size_t)(rng(s) % 512);         /* small */
    }
}

static hdr_t *allocate(uint64_t *s) {
    size_t size = pick_size(s);
    hdr_t *h;
    uint64_t how = rng(s) % 16;
    if (how == 0) {
        void *p = NULL;
        size_t al = (size_t)16 << (rng(s) % 9);
        if (posix_memalign(&p, al, size) != 0)
            p = NULL;
        h = p;
        if (h && ((uintptr_t)h & (al - 1)))
            fail("misaligned posix_memalign", h);
    } else if (how == 1) {
        h = calloc(1, size);
        if (h) {
            const unsigned char *d = (const unsigned char *)h;
            for (size_t i = 0; i < size; i += 97)
                if (d[i])
                    fail("calloc not zeroed", h);
        }
    } else {
        h = malloc(size);
    }
    if (!h) {
        fail("allocation failed", NULL);
        return NULL;
    }
    if ((uintptr_t)h & 15)
        fail("misaligned", h);
    if (malloc_usable_size(h) < size)
        fail("usable size too small", h);
    stamp(h, size, rng(s));
    return h;
}

static void release(hdr_t *h) {
    if (!intact(h))
        fail("block corrupted", h);
    memset(h, 0xDD, sizeof(hdr_t));
    free(h);
}

static void *worker(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    hdr_t *pool[POOL] = {0};
    for (int it = 0; it < ITERS; it++) {
        uint64_t r = rng(&s) % 10;
        size_t slot = (size_t)(rng(&s) % POOL);
        if (r < 5) {
            /* replace a pool entry */
            if (pool[slot])
                release(pool[slot]);
            pool[slot] = allocate(&s);
        } else if (r < 7) {
            /* grow or shrink a pool entry with realloc */
            hdr_t *h = pool[slot];
            if (!h)
                continue;
            if (!intact(h))
                fail("block corrupted before realloc", h);
            size_t old = h->size, size = pick_size(&s);
            uint64_t seed = h->seed;
            hdr_t *n = realloc(h, size);
            if (!n) {
                fail("realloc failed", h);
                continue;
            }
            if ((uintptr_t)n & 15)
                fail("misaligned realloc", n);
            /* the common prefix must have survived */
            n->size = old < size ? old : size;
            if (!intact(n))
                fail("realloc lost contents", n);
            stamp(n, size, seed + 1);
            pool[slot] = n;
        } else {
            /* hand a block to whoever comes next; take one from the mailbox */
            hdr_t *h = allocate(&s), *got = NULL;
            pthread_mutex_lock(&mbox_lock);
            if (mbox_len == MAILBOX || (mbox_len && (rng(&s) & 1)))
                got = mbox[--mbox_len];
            if (h && mbox_len < MAILBOX)
                mbox[mbox_len++] = h, h = NULL;
            pthread_mutex_unlock(&mbox_lock);
            if (got) {
                release(got);
                atomic_fetch_add(&cross_frees, 1);
            }
            if (h)
                release(h);
        }
    }
    for (size_t i = 0; i < POOL; i++)
        if (pool[i])
            release(pool[i]);
    return NULL;
}

/* Short-lived threads: each allocates a little and exits, leaving blocks for
   others to free. */
static void *ephemeral(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg + 12345;
    for (int i = 0; i < 200; i++) {
        hdr_t *h = allocate(&s);
        if (!h)
            continue;
        pthread_mutex_lock(&mbox_lock);
        if (mbox_len < MAILBOX)
            mbox[mbox_len++] = h, h = NULL;
        pthread_mutex_unlock(&mbox_lock);
        if (h)
            release(h);
    }
    return NULL;
}

int main(void) {
    int goheap = goheap_mode();
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t t[THREADS], e[64];
        for (uintptr_t i = 0; i < THREADS; i++)
            REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(i + 1 + round * 100)) == 0);
        for (uintptr_t i = 0; i < 64; i++) {
            REQUIRE(pthread_create(&e[i], NULL, ephemeral, (void *)i) == 0);
            if (i % 8 == 7)
                for (uintptr_t j = i - 7; j <= i; j++)
                    pthread_join(e[j], NULL);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
    }
    while (mbox_len)
        release(mbox[--mbox_len]);
    CHECK(atomic_load(&failures) == 0);
    CHECK(atomic_load(&cross_frees) > 1000);
    printf("threads: allocator %s, %lu blocks freed by another thread\n",
           goheap ? "goheap" : "system", (unsigned long)atomic_load(&cross_frees));
    return check_report("threads");
}
