/* threads.c — registered threads under collection: threads made with
 * pthread_create (redirected to GC_pthread_create by gc.h with GC_THREADS)
 * and one registered by hand with GC_register_my_thread build lists that
 * live only on their own stacks, while the main thread collects; every list
 * must come through intact. Also checks the argument passed to the thread
 * (its only reference is in flight), a thread blocked in a system call, and
 * a fork() with registered threads alive (the child collects alone). */
#define GC_THREADS
#include "gccheck.h"
#include "lists.h"
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 40
#define LEN 2000

struct arg {
    long seed;
    long bad;
};

static void *worker(void *p) {
    struct arg *a = p; /* a GC object: only this thread's stack holds it */
    for (int r = 0; r < ROUNDS; r++) {
        struct node *l = build(a->seed + r, LEN);
        for (int k = 0; k < 5; k++) {
            GC_MALLOC(256); /* garbage between build and check */
            /* malloc traffic: a thread may be stopped inside malloc (on
               goheap, inside the allocator the collector also uses) */
            free(malloc(16 + 997 * k));
        }
        if (!intact(l, a->seed + r, LEN))
            a->bad++;
    }
    return a;
}

static void *manual(void *p) {
    struct GC_stack_base sb;
    REQUIRE(GC_get_stack_base(&sb) == GC_SUCCESS);
    REQUIRE(GC_register_my_thread(&sb) == GC_SUCCESS);
    REQUIRE(GC_thread_is_registered());
    void *r = worker(p);
    REQUIRE(GC_unregister_my_thread() == GC_SUCCESS);
    return r;
}

/* The hand-registered thread unregisters before it returns, so nothing
   keeps its result for the joiner (libgc does not either): a global does. */
static struct arg *volatile manual_arg; /* volatile: never read */

static int pipefd[2];
static void *blocked(void *p) {
    struct node *l = build(77, LEN);
    char c;
    ssize_t n = read(pipefd[0], &c, 1); /* blocks across collections */
    REQUIRE(n == 1);
    ((struct arg *)p)->bad += !intact(l, 77, LEN);
    return p;
}

int main(void) {
    GC_INIT();
    GC_allow_register_threads();
    printf("collector: %s\n", collector());
    REQUIRE(pipe(pipefd) == 0);

    pthread_t t[THREADS + 2];
    for (int i = 0; i < THREADS; i++) {
        struct arg *a = GC_MALLOC(sizeof *a);
        REQUIRE(a);
        a->seed = (i + 1) * 100;
        REQUIRE(pthread_create(&t[i], NULL, worker, a) == 0);
    }
    {
        struct arg *a = GC_MALLOC(sizeof *a);
        REQUIRE(a);
        a->seed = 9000;
        manual_arg = a;
        /* A plain pthread (no redirection) that registers itself. */
#undef pthread_create
        REQUIRE(pthread_create(&t[THREADS], NULL, manual, a) == 0);
#define pthread_create GC_pthread_create
        struct arg *b = GC_MALLOC(sizeof *b);
        REQUIRE(b);
        REQUIRE(GC_pthread_create(&t[THREADS + 1], NULL, blocked, b) == 0);
    }
    GC_word before = GC_get_gc_no();
    for (int i = 0; i < 20; i++) {
        GC_gcollect();
        usleep(1000);
    }
    CHECK(GC_get_gc_no() >= before + 20);

    /* fork() while a registered thread is blocked: the child has one
       thread, and collects there without waiting for the others. */
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        struct node *l = build(55, LEN);
        for (int i = 0; i < 3; i++)
            GC_gcollect();
        _exit(intact(l, 55, LEN) ? 0 : 1);
    }
    int status;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forked child: status %d", status);

    REQUIRE(write(pipefd[1], "x", 1) == 1);
    for (int i = 0; i < THREADS + 2; i++) {
        void *r;
        /* libgc wants the thread created by plain pthread_create joined by
           plain pthread_join. */
        if (i == THREADS) {
#undef pthread_join
            REQUIRE(pthread_join(t[i], &r) == 0);
#define pthread_join GC_pthread_join
        } else {
            REQUIRE(pthread_join(t[i], &r) == 0);
        }
        CHECKF(((struct arg *)r)->bad == 0, "thread %d saw %ld broken lists", i,
               ((struct arg *)r)->bad);
    }
    return check_report("threads");
}
