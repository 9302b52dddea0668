/*
 * fork.c — fork() while other threads are allocating, then allocate in the
 * child; and exec (the child re-executes this program, which must come up
 * with the same allocator: LD_PRELOAD is inherited, a static link is built
 * in).
 *
 * Usage: fork            run the test
 *        fork exec-child  (internal) the program as started by exec
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BUSY_THREADS = 4, FORKS = 40 };

static atomic_int stop;

/* Keeps the heap (and its locks) busy while the main thread forks. */
static void *busy(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg * 2654435761u + 7;
    void *keep[64] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t i = s % 64;
        free(keep[i]);
        size_t n = (s >> 8) % 100 == 0 ? (s >> 16) % (2 << 20) : (s >> 16) % 2000;
        keep[i] = malloc(n);
        if (keep[i])
            memset(keep[i], (int)i, n);
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return NULL;
}

/* What a child does right after fork: use the heap heavily, including from
   new threads, and exit with 0 only if everything checks out. */
static void *child_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        char *p = malloc((size_t)(i % 700) + 1);
        if (!p)
            return (void *)1;
        memset(p, 'x', (size_t)(i % 700) + 1);
        free(p);
    }
    return NULL;
}

static int child_work(int k) {
    int bad = 0;
    char *blocks[500];
    for (int i = 0; i < 500; i++) {
        size_t n = (size_t)((i * 37 + k) % 3000) + 1;
        blocks[i] = malloc(n);
        if (!blocks[i]) {
            bad = 1;
            continue;
        }
        memset(blocks[i], (char)i, n);
    }
    for (int i = 0; i < 500; i++) {
        size_t n = (size_t)((i * 37 + k) % 3000) + 1;
        if (blocks[i] && (blocks[i][0] != (char)i || blocks[i][n - 1] != (char)i))
            bad = 1;
        blocks[i] = realloc(blocks[i], n * 2);
        if (!blocks[i])
            bad = 1;
    }
    for (int i = 0; i < 500; i++)
        free(blocks[i]);
    void *big = calloc(1, (size_t)8 << 20);
    if (!big)
        bad = 1;
    free(big);
    char *s = NULL;
    if (asprintf(&s, "child %d", k) < 0)
        bad = 1;
    free(s);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, child_thread, NULL) != 0)
            bad = 1;
    for (int i = 0; i < 2; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        if (r)
            bad = 1;
    }
    return bad;
}

static int exec_child(void) {
    /* Started by exec: check the allocator is (still) the expected one and
       works. */
    int mode = goheap_mode();
    for (int i = 0; i < 10000; i++) {
        void *p = malloc((size_t)i);
        if (!p && i)
            return 3;
        free(p);
    }
    printf("exec-child: allocator %s\n", mode ? "goheap" : "system");
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0)
        return exec_child();

    int mode = goheap_mode();
    pthread_t t[BUSY_THREADS];
    for (uintptr_t i = 0; i < BUSY_THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, busy, (void *)(i + 1)) == 0);

    for (int k = 0; k < FORKS; k++) {
        /* Parent holds blocks across the fork; the child frees them. */
        char *inherited = malloc(100 + (size_t)k);
        REQUIRE(inherited);
        memset(inherited, 'i', 100 + (size_t)k);
        fflush(stdout);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int bad = inherited[99 + k] != 'i';
            free(inherited);
            bad |= child_work(k);
            _exit(bad ? 1 : 0);
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "fork child %d: status %#x", k, status);
        free(inherited);
    }

    /* fork + exec from a threaded program. */
    fflush(stdout);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char *args[] = {argv[0], "exec-child", NULL};
        execv("/proc/self/exe", args);
        _exit(127);
    }
    close(fds[1]);
    char out[256] = {0};
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec child: status %#x",
           status);
    const char *want = mode ? "exec-child: allocator goheap\n"
                            : "exec-child: allocator system\n";
    CHECKF(strcmp(out, want) == 0, "exec child said: %s", out);

    atomic_store(&stop, 1);
    for (int i = 0; i < BUSY_THREADS; i++)
        pthread_join(t[i], NULL);
    printf("fork: allocator %s, %d forks, exec ok\n", mode ? "goheap" : "system",
           FORKS);
    return check_report("fork");
}
