/*
 * lists.h — singly linked lists of GC objects whose contents can be
 * checked, for the thread tests in tests/c/gc/ (include after gccheck.h).
 * build(seed, n) links n nodes allocated with GC_MALLOC; intact(list, seed,
 * n) says whether every node still holds the value it was built with.
 */
#ifndef GOHEAP_LISTS_H
#define GOHEAP_LISTS_H

struct node {
    struct node *next;
    long value;
};

static struct node *build(long seed, int n) {
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *x = GC_MALLOC(sizeof *x);
        REQUIRE(x);
        x->value = seed * 1000003 + i;
        x->next = head;
        head = x;
    }
    return head;
}

static int intact(const struct node *x, long seed, int n) {
    for (int i = n - 1; i >= 0; i--, x = x->next)
        if (!x || x->value != seed * 1000003 + i)
            return 0;
    return x == NULL;
}

#endif
