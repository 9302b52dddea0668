/* small-pairs.c — small malloc/free pairs on one thread: the loop of glibc's
 * bench-malloc-simple with random sizes. At each step the thread frees one of
 * its 4 live blocks and allocates a new one of 16–512 bytes (uniform), so
 * nearly every malloc is served by the block the previous free gave back.
 * Blocks are checked at their first and last word (see common.h), so the
 * time is mostly the allocator's fast paths. */
#include "common.h"

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    sums_t sums = small_pairs_loop(1, scaled(40L * 1000 * 1000));
    return finish("small-pairs", &sums);
}
