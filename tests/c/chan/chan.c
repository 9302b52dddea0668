/*
 * chan.c — goheap's channels from C threads: every element crosses exactly
 * once under many senders and receivers (unbuffered and buffered), close
 * semantics, timeouts, and select (readiness, default, timeout, NULL cases,
 * fairness). Linked statically against libgoheap.a.
 */
#include "check.h"

#include <goheap.h>
#include <pthread.h>
#include <time.h>

enum { SENDERS = 4, RECEIVERS = 4, PER_SENDER = 20000 };

/* A 24-byte element: the value, its sender and a check word. */
typedef struct {
    uint64_t value;
    uint64_t sender;
    uint64_t check;
} item;

static goheap_chan *work;
static unsigned char seen[SENDERS * PER_SENDER];
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void *sender(void *arg) {
    uint64_t s = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < PER_SENDER; i++) {
        item it = {s * PER_SENDER + i, s, (s * PER_SENDER + i) ^ 0x5a5a5a5a};
        REQUIRE(goheap_chan_send(work, &it, -1) == 0);
    }
    return NULL;
}

static void *receiver(void *arg) {
    (void)arg;
    item it;
    uint64_t last[SENDERS];
    memset(last, 0xff, sizeof last);
    while (goheap_chan_recv(work, &it, -1) == 0) {
        REQUIRE(it.value < SENDERS * PER_SENDER && it.check == (it.value ^ 0x5a5a5a5a));
        /* FIFO per sender, as seen by one receiver. */
        CHECK(last[it.sender] == UINT64_MAX || last[it.sender] < it.value);
        last[it.sender] = it.value;
        pthread_mutex_lock(&seen_lock);
        seen[it.value]++;
        pthread_mutex_unlock(&seen_lock);
    }
    return NULL;
}

static void every_value_once(size_t cap) {
    memset(seen, 0, sizeof seen);
    work = goheap_chan_make(sizeof(item), cap);
    REQUIRE(work != NULL);
    pthread_t s[SENDERS], r[RECEIVERS];
    for (int i = 0; i < RECEIVERS; i++)
        pthread_create(&r[i], NULL, receiver, NULL);
    for (uintptr_t i = 0; i < SENDERS; i++)
        pthread_create(&s[i], NULL, sender, (void *)i);
    for (int i = 0; i < SENDERS; i++)
        pthread_join(s[i], NULL);
    CHECK(goheap_chan_close(work) == 0);
    for (int i = 0; i < RECEIVERS; i++)
        pthread_join(r[i], NULL);
    for (size_t i = 0; i < SENDERS * PER_SENDER; i++)
        CHECKF(seen[i] == 1, "cap %zu: value %zu seen %d times", cap, i, seen[i]);
    goheap_chan_free(work);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void close_and_timeouts(void) {
    goheap_chan *c = goheap_chan_make(sizeof(int), 2);
    int v = 1, out = 0;
    CHECK(goheap_chan_send(c, &v, 0) == 0);
    v = 2;
    CHECK(goheap_chan_send(c, &v, 0) == 0);
    v = 3;
    CHECK(goheap_chan_send(c, &v, 0) == GOHEAP_CHAN_NOT_READY);
    double t0 = now();
    CHECK(goheap_chan_send(c, &v, 20000000) == GOHEAP_CHAN_NOT_READY);
    CHECK(now() - t0 >= 0.02);
    CHECK(goheap_chan_close(c) == 0);
    CHECK(goheap_chan_close(c) == GOHEAP_CHAN_CLOSED);
    CHECK(goheap_chan_send(c, &v, -1) == GOHEAP_CHAN_CLOSED);
    CHECK(goheap_chan_recv(c, &out, -1) == 0 && out == 1);
    CHECK(goheap_chan_recv(c, &out, 0) == 0 && out == 2);
    CHECK(goheap_chan_recv(c, &out, -1) == GOHEAP_CHAN_CLOSED);
    goheap_chan_free(c);

    c = goheap_chan_make(sizeof(int), 0);
    t0 = now();
    CHECK(goheap_chan_recv(c, &out, 20000000) == GOHEAP_CHAN_NOT_READY);
    CHECK(now() - t0 >= 0.02);
    goheap_chan_free(c);

    CHECK(goheap_chan_send(NULL, &v, 0) == GOHEAP_CHAN_INVALID);
    CHECK(goheap_chan_make(1 << 20, SIZE_MAX / 2) == NULL);
}

static void selects(void) {
    goheap_chan *a = goheap_chan_make(sizeof(int), 1);
    goheap_chan *b = goheap_chan_make(sizeof(int), 1);
    int va = 0, vb = 0, ok = -1;
    struct goheap_chan_case cases[3] = {
        {a, GOHEAP_CHAN_RECV, &va},
        {NULL, GOHEAP_CHAN_RECV, &vb},
        {b, GOHEAP_CHAN_RECV, &vb},
    };
    CHECK(goheap_chan_select(cases, 3, 0, &ok) == GOHEAP_CHAN_NOT_READY);
    double t0 = now();
    CHECK(goheap_chan_select(cases, 3, 20000000, &ok) == GOHEAP_CHAN_NOT_READY);
    CHECK(now() - t0 >= 0.02);
    int seven = 7;
    CHECK(goheap_chan_send(b, &seven, 0) == 0);
    CHECK(goheap_chan_select(cases, 3, -1, &ok) == 2 && ok == 1 && vb == 7);

    /* Fairness: both always ready; each must win a fair share. */
    int wins[3] = {0, 0, 0};
    for (int i = 0; i < 2000; i++) {
        goheap_chan_send(a, &seven, 0);
        goheap_chan_send(b, &seven, 0);
        int k = goheap_chan_select(cases, 3, -1, &ok);
        REQUIRE(k == 0 || k == 2);
        wins[k]++;
    }
    CHECKF(wins[0] > 800 && wins[2] > 800, "wins %d %d", wins[0], wins[2]);

    /* A send case on a closed channel completes with ok = 0. */
    goheap_chan *closed = goheap_chan_make(sizeof(int), 0);
    goheap_chan_close(closed);
    struct goheap_chan_case send_case = {closed, GOHEAP_CHAN_SEND, &seven};
    CHECK(goheap_chan_select(&send_case, 1, -1, &ok) == 0 && ok == 0);
    struct goheap_chan_case bad = {a, 5, &va};
    CHECK(goheap_chan_select(&bad, 1, 0, &ok) == GOHEAP_CHAN_INVALID);
    goheap_chan_free(a);
    goheap_chan_free(b);
    goheap_chan_free(closed);
}

int main(void) {
    every_value_once(0);
    every_value_once(1);
    every_value_once(64);
    close_and_timeouts();
    selects();
    printf("chan: %lu checks, %lu failures\n", check_count, check_failures);
    return check_failures != 0;
}
