/* gc_latency.c — request latency beside a large, mutating live heap, on
 * libgc's C API (GC_MALLOC from libgc's own gc.h, threads through
 * GC_THREADS' pthread_create). The algorithm, arguments and stdout are those
 * of gc_latency.go (read it first); the goheap Rust port is
 * examples/gc_latency.rs. Row "gc-latency" of `goheap bench --suite gc`.
 *
 * Build once, run on two collectors:
 *   cc -O2 workloads/gc/gc_latency.c -o gc_latency -lgc -lpthread
 *   ./gc_latency 256                                          # Boehm GC
 *   LD_PRELOAD=target/release/libgoheap.so ./gc_latency 256   # goheap
 *
 * Usage: gc_latency [LIVE_MIB [MUTATORS]]   (defaults 256, 1)
 * stdout: the forest's shape and checksum, then the `metric` lines
 * (requests, p50/p99/p99.9/max latency in microseconds, gc_count from
 * GC_get_gc_no), as the other C workloads of the gc suite do. */
#define GC_THREADS
#include <gc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define TREE_DEPTH 16
#define NODES_PER_TREE ((1L << (TREE_DEPTH + 1)) - 1)
#define MAX_SUBTREE 7
#define REQUEST_DEPTH 5
#define HISTOGRAM_US (1 << 17) /* latency buckets of 1 us; longer count in the last */
#define TIME_LIMIT_S 120

/* 64 bytes, as Go's node: two pointers, a value, 5 words of padding. */
struct node {
    struct node *left, *right;
    uint64_t value;
    uint64_t pad[5];
};

/* The generator every port uses. */
static uint64_t next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static struct node *build(int depth, uint64_t *g) {
    struct node *n = GC_MALLOC(sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "gc_latency: out of memory\n");
        exit(1);
    }
    n->value = next(g);
    if (depth > 0) {
        n->left = build(depth - 1, g);
        n->right = build(depth - 1, g);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static uint64_t sum(const struct node *n) {
    return n == NULL ? 0 : n->value + sum(n->left) + sum(n->right);
}

/* The forest: a GC array, reached from this static (a root). */
static struct node **forest;
static long trees;
static atomic_bool done;

struct mutator {
    pthread_t thread;
    long number, mutators, ops;
};

static void *mutate(void *arg) {
    const struct mutator *m = arg;
    long owned = m->number < trees ? (trees - 1 - m->number) / m->mutators + 1 : 0;
    if (owned == 0)
        return NULL;
    uint64_t g = 1000 + (uint64_t)m->number;
    for (long op = 0; op < m->ops; op++) {
        struct node *parent = forest[m->number + (long)(next(&g) % (uint64_t)owned) * m->mutators];
        int k = (int)(next(&g) % (MAX_SUBTREE + 1));
        for (int level = 0; level < TREE_DEPTH - k - 1; level++)
            parent = next(&g) & 1 ? parent->right : parent->left;
        if (next(&g) & 1)
            parent->right = build(k, &g);
        else
            parent->left = build(k, &g);
    }
    return NULL;
}

struct served {
    uint64_t *hist;
    long longest_us;
};

static long elapsed_us(const struct timespec *a, const struct timespec *b) {
    return (b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000;
}

static void *serve(void *arg) {
    struct served *out = arg;
    uint64_t g = 7, sink = 0;
    while (!atomic_load_explicit(&done, memory_order_relaxed)) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        sink += sum(build(REQUEST_DEPTH, &g));
        clock_gettime(CLOCK_MONOTONIC, &end);
        long us = elapsed_us(&start, &end);
        out->hist[us < HISTOGRAM_US ? us : HISTOGRAM_US - 1]++;
        if (us > out->longest_us)
            out->longest_us = us;
    }
    if (sink == 1)
        fprintf(stderr, "gc_latency: unlikely request sum\n");
    return NULL;
}

static long percentile_us(const uint64_t *hist, uint64_t total, double p) {
    uint64_t rank = (uint64_t)(p * (double)total), seen = 0;
    for (long us = 0; us < HISTOGRAM_US; us++) {
        seen += hist[us];
        if (seen > rank)
            return us;
    }
    return HISTOGRAM_US - 1;
}

static void too_long(int sig) {
    (void)sig;
    static const char msg[] = "gc_latency: still running after 120s\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

static long int_arg(int argc, char **argv, int i, long def) {
    if (argc <= i)
        return def;
    char *end;
    long n = strtol(argv[i], &end, 10);
    if (*end != '\0' || end == argv[i]) {
        fprintf(stderr, "gc_latency: bad argument \"%s\"\n", argv[i]);
        exit(2);
    }
    return n;
}

int main(int argc, char **argv) {
    long live_mib = int_arg(argc, argv, 1, 256), mutators = int_arg(argc, argv, 2, 1);
    if (live_mib < 1 || mutators < 1) {
        fprintf(stderr, "gc_latency: LIVE_MIB and MUTATORS must be positive\n");
        return 2;
    }
    GC_INIT();
    trees = live_mib / 8 < 1 ? 1 : live_mib / 8;
    forest = GC_MALLOC(trees * sizeof *forest);
    for (long t = 0; t < trees; t++) {
        uint64_t g = (uint64_t)t;
        forest[t] = build(TREE_DEPTH, &g);
    }
    long nodes = trees * NODES_PER_TREE, ops = nodes / 8 / mutators;

    signal(SIGALRM, too_long);
    alarm(TIME_LIMIT_S);
    struct mutator *ms = calloc((size_t)mutators, sizeof *ms);
    struct served served = {calloc(HISTOGRAM_US, sizeof(uint64_t)), 0};
    if (ms == NULL || served.hist == NULL) {
        fprintf(stderr, "gc_latency: out of memory\n");
        return 1;
    }
    for (long m = 0; m < mutators; m++) {
        ms[m] = (struct mutator){0, m, mutators, ops};
        if (pthread_create(&ms[m].thread, NULL, mutate, &ms[m]) != 0) {
            fprintf(stderr, "gc_latency: pthread_create failed\n");
            return 1;
        }
    }
    pthread_t server;
    if (pthread_create(&server, NULL, serve, &served) != 0) {
        fprintf(stderr, "gc_latency: pthread_create failed\n");
        return 1;
    }
    for (long m = 0; m < mutators; m++)
        pthread_join(ms[m].thread, NULL);
    atomic_store(&done, 1);
    pthread_join(server, NULL);
    alarm(0);

    uint64_t checksum = 0;
    for (long t = 0; t < trees; t++)
        checksum += sum(forest[t]);
    printf("forest of %ld trees of depth %d: %ld nodes, %ld mutators, %ld operations each\n", trees,
           TREE_DEPTH, nodes, mutators, ops);
    printf("checksum %llu\n", (unsigned long long)checksum);

    uint64_t requests = 0;
    for (long us = 0; us < HISTOGRAM_US; us++)
        requests += served.hist[us];
    printf("metric requests %llu\n", (unsigned long long)requests);
    printf("metric p50_us %ld\n", percentile_us(served.hist, requests, 0.50));
    printf("metric p99_us %ld\n", percentile_us(served.hist, requests, 0.99));
    printf("metric p999_us %ld\n", percentile_us(served.hist, requests, 0.999));
    printf("metric max_us %ld\n", served.longest_us);
    printf("metric gc_count %lu\n", (unsigned long)GC_get_gc_no());
    return 0;
}
