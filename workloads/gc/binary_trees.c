/* binary_trees.c — the benchmarks-game binary-trees program on libgc's C API
 * (GC_MALLOC from libgc's own gc.h, no explicit frees).
 *
 * Build once, run on two collectors:
 *   cc -O2 workloads/gc/binary_trees.c -o binary_trees -lgc
 *   ./binary_trees 21                                  # Boehm GC (libgc)
 *   LD_PRELOAD=target/release/libgoheap.so ./binary_trees 21   # goheap
 *
 * argv[1] is the maximum depth (default 21). Prints the benchmarks game's
 * standard output, then `metric gc_count N` (GC_get_gc_no at exit) for
 * `goheap bench`. Single-threaded, as the collectors are compared on the
 * allocation and collection work, not on parallel tree building. */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *left, *right;
};

static struct node *bottom_up(int depth) {
    struct node *n = GC_MALLOC(sizeof *n);
    if (n == NULL) {
        fprintf(stderr, "binary_trees: out of memory\n");
        exit(1);
    }
    if (depth > 0) {
        n->left = bottom_up(depth - 1);
        n->right = bottom_up(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long check(const struct node *n) {
    return n->left == NULL ? 1 : 1 + check(n->left) + check(n->right);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 21;
    const int min_depth = 4;
    int max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    GC_INIT();

    int stretch = max_depth + 1;
    printf("stretch tree of depth %d\t check: %ld\n", stretch, check(bottom_up(stretch)));

    struct node *long_lived = bottom_up(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth);
        long sum = 0;
        for (long i = 0; i < iterations; i++)
            sum += check(bottom_up(d));
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, sum);
    }
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
    printf("metric gc_count %lu\n", (unsigned long)GC_get_gc_no());
    return 0;
}
