/* Goroutines from C: goheap_go, yield, sleep, blocking, waitgroups. */
#include <goheap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

static atomic_long sum;
static goheap_waitgroup *wg;

static void child(void *arg) {
    goheap_yield();
    atomic_fetch_add(&sum, (long)(size_t)arg);
    goheap_waitgroup_done(wg);
}

static void nap(void *arg) { usleep((useconds_t)(size_t)arg); }

static void parent(void *arg) {
    long n = (long)(size_t)arg;
    for (long i = 1; i <= n; i++) {
        goheap_waitgroup_add(wg, 1);
        if (goheap_go(child, (void *)(size_t)i) != 0) return;
    }
    goheap_sleep_ns(1000000);
    goheap_blocking(nap, (void *)(size_t)1000);
    goheap_waitgroup_done(wg);
}

int main(void) {
    const long n = 10000;
    wg = goheap_waitgroup_new();
    goheap_waitgroup_add(wg, 1);
    if (goheap_go(parent, (void *)(size_t)n) != 0 || goheap_go(NULL, NULL) != -1) return 1;
    goheap_waitgroup_wait(wg);
    goheap_waitgroup_free(wg);
    if (atomic_load(&sum) != n * (n + 1) / 2 || goheap_gomaxprocs() < 1) return 2;
    printf("goroutines from C: sum %ld\n", atomic_load(&sum));
    return 0;
}
