/* common.h — helpers shared by the goheap bench workloads (the C programs in workloads/).
 *
 * Every workload is a small C program that `goheap bench` compiles with the
 * system compiler (`cc -O2 -pthread`) and runs once per allocator, reaching
 * each allocator through the ordinary malloc/free symbols (LD_PRELOAD).
 *
 * Conventions:
 *  - argv[1], when given, is a scale factor (default 1.0) multiplying the
 *    amount of work: `scaled(n)` (tests run the workloads at a tiny scale).
 *  - Every block a workload allocates is filled with a pattern derived from a
 *    per-block tag (`fill`) and verified before it is freed (`check`); both
 *    return the sum of the words they touched, and the workload compares the
 *    two totals at the end (`finish`). A mismatch, or a NULL from malloc,
 *    ends the program with exit code 1 and a message on stderr, so an
 *    allocator that corrupts memory fails the run.
 *  - The pattern is defined per byte position: byte j of a block tagged t
 *    holds byte (j % 8) of pattern(t, j / 8), so a block can be checked for
 *    any prefix length (realloc) whatever sizes it was filled with.
 *  - Blocks above 1 KiB are only touched at their start, once per 4 KiB page
 *    and at their end: enough to fault every page in and to catch overlap,
 *    without turning the large-block workloads into memset benchmarks.
 */
#ifndef GOHEAP_WORKLOAD_COMMON_H
#define GOHEAP_WORKLOAD_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scale factor from argv[1]; set by workload_init. */
static double workload_scale = 1.0;

/* Reports an error on stderr and exits with status 1. */
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("workload failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Reads the scale factor (argv[1]). */
static void workload_init(int argc, char **argv)
{
    if (argc > 1) {
        char *end;
        workload_scale = strtod(argv[1], &end);
        if (*end != '\0' || !(workload_scale > 0.0))
            fail("bad scale factor '%s'", argv[1]);
    }
}

/* n multiplied by the scale factor, at least 1. */
static long scaled(long n)
{
    double v = (double)n * workload_scale;
    return v < 1.0 ? 1 : (long)v;
}

/* splitmix64: a small, fast, seedable generator (one per thread). */
typedef struct {
    uint64_t state;
} rng_t;

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi)
{
    return lo + (size_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* A size in [lo, hi] drawn log-uniformly: small sizes are as common as large
 * ones per power of two, as in real programs. */
static inline size_t rng_size(rng_t *r, size_t lo, size_t hi)
{
    unsigned lo_bits = 63 - __builtin_clzll(lo | 1), hi_bits = 63 - __builtin_clzll(hi | 1);
    unsigned bits = (unsigned)rng_range(r, lo_bits, hi_bits);
    size_t v = ((size_t)1 << bits) + (size_t)(rng_next(r) & (((size_t)1 << bits) - 1));
    return v < lo ? lo : v > hi ? hi : v;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        fail("malloc(%zu) returned NULL", n);
    return p;
}

static inline void *xrealloc(void *old, size_t n)
{
    void *p = realloc(old, n);
    if (p == NULL)
        fail("realloc(%p, %zu) returned NULL", old, n);
    return p;
}

/* The 8-byte word at word index i of a block tagged `tag`. */
static inline uint64_t pattern(uint64_t tag, size_t i)
{
    uint64_t z = tag * 0x9e3779b97f4a7c15ULL + i * 0xd1b54a32d192ed03ULL;
    return z ^ (z >> 29);
}

/* Visits the word indices a block of n bytes gets touched at: every full
 * word up to 1 KiB, then one word per 4 KiB page and the last full word. */
#define SMALL_WORDS 128
#define PAGE_WORDS 512
#define FOR_EACH_TOUCHED_WORD(i, n)                                          \
    for (size_t i = 0, words_ = (n) / 8; i < words_;                         \
         i = (i + 1 < SMALL_WORDS || i + 1 == words_) ? i + 1                \
             : (i + PAGE_WORDS < words_ ? i + PAGE_WORDS : words_ - 1))

/* Fills block p of n bytes with the pattern of `tag`; returns the sum of the
 * words written. */
static inline uint64_t fill(void *p, size_t n, uint64_t tag)
{
    unsigned char *b = p;
    uint64_t sum = 0;
    FOR_EACH_TOUCHED_WORD(i, n) {
        uint64_t w = pattern(tag, i);
        memcpy(b + 8 * i, &w, 8);
        sum += w;
    }
    if (n % 8) {
        uint64_t w = pattern(tag, n / 8);
        memcpy(b + n - n % 8, &w, n % 8);
        sum += w & ((1ULL << (8 * (n % 8))) - 1);
    }
    return sum;
}

/* Verifies the first n bytes of block p against the pattern of `tag` (at the
 * positions fill(p, n, tag) writes); returns the sum of the words read. */
static inline uint64_t check(const void *p, size_t n, uint64_t tag)
{
    const unsigned char *b = p;
    uint64_t sum = 0;
    FOR_EACH_TOUCHED_WORD(i, n) {
        uint64_t w;
        memcpy(&w, b + 8 * i, 8);
        if (w != pattern(tag, i))
            fail("block %p (%zu bytes, tag %llu) corrupted at byte %zu", p, n,
                 (unsigned long long)tag, 8 * i);
        sum += w;
    }
    if (n % 8) {
        uint64_t w = 0, mask = (1ULL << (8 * (n % 8))) - 1;
        memcpy(&w, b + n - n % 8, n % 8);
        if (w != (pattern(tag, n / 8) & mask))
            fail("block %p (%zu bytes, tag %llu) corrupted in its last bytes", p, n,
                 (unsigned long long)tag);
        sum += w;
    }
    return sum;
}

/* Running checksums of one thread: what it wrote and what it read back. */
typedef struct {
    uint64_t written, read;
} sums_t;

static inline void *alloc_filled(sums_t *s, size_t n, uint64_t tag)
{
    void *p = xmalloc(n);
    s->written += fill(p, n, tag);
    return p;
}

static inline void free_checked(sums_t *s, void *p, size_t n, uint64_t tag)
{
    s->read += check(p, n, tag);
    free(p);
}

/* A block a workload keeps: address, size and tag. */
typedef struct {
    void *p;
    size_t n;
    uint64_t tag;
} block_t;

/* Allocates n (at least 16) bytes and writes the pattern of `tag` into the
 * first and the last word only: for the workloads that measure malloc and
 * free themselves, where filling every word would take most of the time. */
static inline void *alloc_ends(sums_t *s, size_t n, uint64_t tag)
{
    unsigned char *p = xmalloc(n);
    uint64_t first = pattern(tag, 0), last = pattern(tag, 1);
    memcpy(p, &first, 8);
    memcpy(p + n - 8, &last, 8);
    s->written += first + last;
    return p;
}

/* Checks the two words alloc_ends wrote, then frees the block. */
static inline void free_ends(sums_t *s, const block_t *b)
{
    const unsigned char *p = b->p;
    uint64_t first, last;
    memcpy(&first, p, 8);
    memcpy(&last, p + b->n - 8, 8);
    if (first != pattern(b->tag, 0) || last != pattern(b->tag, 1))
        fail("block %p (%zu bytes, tag %llu) corrupted", b->p, b->n,
             (unsigned long long)b->tag);
    s->read += first + last;
    free(b->p);
}

/* Frees the block in *b, if any, and puts a new one of n bytes there. */
static inline void replace_ends(sums_t *s, block_t *b, size_t n, uint64_t tag)
{
    if (b->p != NULL)
        free_ends(s, b);
    b->n = n;
    b->tag = tag;
    b->p = alloc_ends(s, n, tag);
}

/* The loop of bench-malloc-simple's shape: `steps` times, free one of a
 * few live blocks and allocate one of a random size in [16, 512] bytes in
 * its place. Returns the thread's sums. */
#define FEW_LIVE 4
static inline sums_t small_pairs_loop(uint64_t seed, long steps)
{
    rng_t rng = {seed};
    sums_t sums = {0, 0};
    block_t live[FEW_LIVE] = {{0}};
    for (long step = 0; step < steps; step++)
        replace_ends(&sums, &live[step % FEW_LIVE], rng_range(&rng, 16, 512),
                     seed << 48 | (uint64_t)step);
    for (int i = 0; i < FEW_LIVE; i++)
        free_ends(&sums, &live[i]);
    return sums;
}

/* Adds another thread's sums to s. */
static inline void sums_add(sums_t *s, const sums_t *other)
{
    s->written += other->written;
    s->read += other->read;
}

/* Compares the totals and prints the checksum; the workload's last step. */
static int finish(const char *name, const sums_t *s)
{
    if (s->written != s->read)
        fail("%s: checksum of data written %016llx != data read back %016llx", name,
             (unsigned long long)s->written, (unsigned long long)s->read);
    printf("%s: ok, checksum %016llx\n", name, (unsigned long long)s->written);
    return 0;
}

/* Starts a thread or fails. */
static inline void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(t, NULL, fn, arg);
    if (err != 0)
        fail("pthread_create: %s", strerror(err));
}

static inline void join_thread(pthread_t t)
{
    int err = pthread_join(t, NULL);
    if (err != 0)
        fail("pthread_join: %s", strerror(err));
}

/* Runs fn((void *)0) … fn((void *)(n - 1)) on n threads at once, waits for
 * them, and returns the total of sums[0..n), where each thread leaves its
 * own. */
static inline sums_t run_threads(size_t n, void *(*fn)(void *), const sums_t *sums)
{
    pthread_t threads[64];
    if (n > 64)
        fail("run_threads: %zu threads, at most 64", n);
    for (size_t t = 0; t < n; t++)
        start_thread(&threads[t], fn, (void *)t);
    sums_t total = {0, 0};
    for (size_t t = 0; t < n; t++) {
        join_thread(threads[t]);
        sums_add(&total, &sums[t]);
    }
    return total;
}

#endif
