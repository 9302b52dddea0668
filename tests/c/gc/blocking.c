/* blocking.c — registered threads blocked in long system calls do not stall
 * collections, and go on correctly afterwards.
 *
 * Two threads made with GC_pthread_create build a list that lives only on
 * their own stack, then block: one in read() on an empty pipe (restarted
 * after the suspend signal: SA_RESTART), one in nanosleep() for 30 s
 * (interrupted by it with EINTR, and resumed with the time left, as
 * programs must do under libgc too). Meanwhile the main thread collects
 * ten times and allocates garbage: every GC_gcollect must complete a
 * collection (GC_get_gc_no counts them) while both threads are still
 * blocked: before the 30 s sleep ends. Then the threads are released;
 * each checks its list, allocates and collects on its own, and checks
 * again. Meanwhile two more threads allocate without pause, so that stops
 * land inside their allocations too. */
#define GC_THREADS
#include "gccheck.h"
#include "lists.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define LEN 5000
#define SLEEP_SECS 30

static int pipefd[2];
static atomic_int blocked_threads;
static atomic_int woken;
static atomic_int sleeper_awake;
static atomic_int stop_churning;

/* After the blocking call: the list survived, and the thread still
   allocates and collects. Returns the number of broken lists. */
static long afterwards(const struct node *l, long seed) {
    long bad = !intact(l, seed, LEN);
    struct node *more = build(seed + 1, LEN);
    GC_gcollect();
    bad += !intact(l, seed, LEN) + !intact(more, seed + 1, LEN);
    return bad;
}

static void *reader(void *arg) {
    (void)arg;
    struct node *l = build(11, LEN);
    char c;
    atomic_fetch_add(&blocked_threads, 1);
    ssize_t n = read(pipefd[0], &c, 1); /* blocks across the collections */
    REQUIRE(n == 1);
    return (void *)afterwards(l, 11);
}

static void *sleeper(void *arg) {
    (void)arg;
    struct node *l = build(22, LEN);
    struct timespec left = {SLEEP_SECS, 0};
    atomic_fetch_add(&blocked_threads, 1);
    while (!atomic_load(&woken) && nanosleep(&left, &left) == -1 && errno == EINTR) {
    }
    atomic_store(&sleeper_awake, 1);
    return (void *)afterwards(l, 22);
}

/* Allocates short lists without pause until told to stop. */
static void *churner(void *arg) {
    long seed = (long)arg, bad = 0;
    while (!atomic_load(&stop_churning)) {
        struct node *l = build(seed, 100);
        bad += !intact(l, seed, 100);
    }
    return (void *)bad;
}

static void on_wake(int sig) { (void)sig; }

int main(void) {
    GC_INIT();
    GC_allow_register_threads();
    printf("collector: %s\n", collector());
    REQUIRE(pipe(pipefd) == 0);
    struct sigaction sa = {0};
    sa.sa_handler = on_wake;
    REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);

    pthread_t blocked[2], churners[2];
    REQUIRE(GC_pthread_create(&blocked[0], NULL, reader, NULL) == 0);
    REQUIRE(GC_pthread_create(&blocked[1], NULL, sleeper, NULL) == 0);
    for (long i = 0; i < 2; i++)
        REQUIRE(GC_pthread_create(&churners[i], NULL, churner, (void *)(100 + i)) == 0);
    while (atomic_load(&blocked_threads) < 2)
        usleep(1000);
    usleep(50 * 1000); /* into their system calls */

    GC_word before = GC_get_gc_no();
    for (int i = 0; i < 10; i++) {
        build(33, LEN); /* garbage */
        GC_gcollect();
    }
    CHECKF(GC_get_gc_no() >= before + 10, "%lu collections instead of 10",
           (unsigned long)(GC_get_gc_no() - before));
    CHECK(!atomic_load(&sleeper_awake)); /* collected while it slept */

    atomic_store(&stop_churning, 1);
    for (int i = 0; i < 2; i++) {
        void *bad;
        REQUIRE(pthread_join(churners[i], &bad) == 0);
        CHECKF(bad == NULL, "churner %d saw %ld broken lists", i, (long)bad);
    }
    REQUIRE(write(pipefd[1], "x", 1) == 1);
    atomic_store(&woken, 1);
    REQUIRE(pthread_kill(blocked[1], SIGUSR1) == 0);
    for (int i = 0; i < 2; i++) {
        void *bad;
        REQUIRE(pthread_join(blocked[i], &bad) == 0);
        CHECKF(bad == NULL, "blocked thread %d: %ld broken lists", i, (long)bad);
    }
    return check_report("blocking");
}
