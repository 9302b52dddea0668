/* goheap gives memory back: allocate about 1 GiB in small and large blocks,
 * free everything, and check VmRSS; first with malloc_trim(0), then by going
 * idle and letting the background scavenger work. Also checks that
 * goheap_stats and mallinfo2 agree with what happened.
 * Usage: release trim|idle. Prints "ok" or a reason and exits 1. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "goheap.h"
#include "rss.h"

#define SMALL 4000000 /* 4e6 blocks of 16..256 bytes: about 550 MiB */
#define LARGE 128     /* 128 blocks of 4 MiB: 512 MiB */

static void *small[SMALL];
static void *large[LARGE];

static void churn(void) {
    for (long i = 0; i < SMALL; i++) {
        size_t n = 16 + (i * 37) % 241;
        small[i] = malloc(n);
        memset(small[i], 0x5a, n);
    }
    for (int i = 0; i < LARGE; i++) {
        large[i] = malloc(4 << 20);
        memset(large[i], 0x5a, 4 << 20);
    }
    for (long i = 0; i < SMALL; i++)
        free(small[i]);
    for (int i = 0; i < LARGE; i++)
        free(large[i]);
}

int main(int argc, char **argv) {
    int idle = argc > 1 && strcmp(argv[1], "idle") == 0;
    free(malloc(1));
    long base = rss_kib();
    churn();
    long peak_after_free = rss_kib();
    struct goheap_stats st;
    goheap_stats(&st);
    if (st.mallocs < SMALL || st.total_alloc < (1ull << 30) || st.heap_sys < (1ull << 30)) {
        printf("stats too small: mallocs %llu total_alloc %llu heap_sys %llu\n",
               (unsigned long long)st.mallocs, (unsigned long long)st.total_alloc,
               (unsigned long long)st.heap_sys);
        return 1;
    }
    if (idle) {
        for (int waited = 0; rss_kib() > base + 64 * 1024; waited++) {
            if (waited >= 100) {
                printf("idle: RSS %ld KiB after 10 s (start %ld KiB, before idling %ld KiB)\n",
                       rss_kib(), base, peak_after_free);
                return 1;
            }
            usleep(100 * 1000);
        }
    } else {
        if (malloc_trim(0) != 1) {
            printf("malloc_trim(0) released nothing\n");
            return 1;
        }
        if (rss_kib() > base + 64 * 1024) {
            printf("trim: RSS %ld KiB (start %ld KiB)\n", rss_kib(), base);
            return 1;
        }
        struct mallinfo2 mi = mallinfo2();
        goheap_stats(&st);
        if (st.heap_released < (1ull << 29) || mi.arena != st.heap_sys ||
            mi.uordblks != st.heap_alloc || st.heap_released > st.heap_idle) {
            printf("after trim: heap_released %llu heap_idle %llu arena %zu heap_sys %llu\n",
                   (unsigned long long)st.heap_released, (unsigned long long)st.heap_idle,
                   mi.arena, (unsigned long long)st.heap_sys);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}
