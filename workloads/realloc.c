/* realloc.c — realloc growth: 64 buffers grow side by side by appending
 * chunks of 1–64 bytes until each reaches its target length (64 bytes–
 * 128 KiB), like string builders and growing arrays; then the buffer is
 * verified, freed and a new one started. Half of the buffers call realloc on
 * every append (exact growth), the other half double their capacity. Growing
 * buffers interleave, so in-place growth is not always possible and blocks
 * move; the contents must survive every move. */
#include "common.h"

#define BUFFERS 64

typedef struct {
    unsigned char *p;
    size_t len, cap, target;
    uint64_t tag;
    int doubling;
} builder_t;

/* Writes the pattern of `tag` into bytes [from, to) of p; returns the sum of
 * the bytes written. */
static uint64_t append_pattern(unsigned char *p, size_t from, size_t to, uint64_t tag)
{
    uint64_t sum = 0;
    for (size_t j = from; j < to;) {
        uint64_t w = pattern(tag, j / 8);
        size_t k = j % 8, n = 8 - k < to - j ? 8 - k : to - j;
        memcpy(p + j, (unsigned char *)&w + k, n);
        for (size_t i = 0; i < n; i++)
            sum += p[j + i];
        j += n;
    }
    return sum;
}

static uint64_t byte_sum(const unsigned char *p, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return sum;
}

static void start(builder_t *b, rng_t *rng, uint64_t tag)
{
    *b = (builder_t){NULL, 0, 0, rng_size(rng, 64, 128 * 1024), tag, (int)(tag & 1)};
}

/* Verifies a finished buffer (position by position, and its byte sum). */
static void finish_buffer(sums_t *sums, builder_t *b)
{
    check(b->p, b->len, b->tag);
    sums->read += byte_sum(b->p, b->len);
    free(b->p);
}

static void append(sums_t *sums, builder_t *b, size_t chunk)
{
    size_t len = b->len + chunk;
    if (len > b->cap) {
        b->cap = b->doubling ? (len > 2 * b->cap ? len : 2 * b->cap) : len;
        b->p = xrealloc(b->p, b->cap);
    }
    sums->written += append_pattern(b->p, b->len, len, b->tag);
    b->len = len;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long appends = scaled(30L * 1000 * 1000);
    rng_t rng = {3};
    sums_t sums = {0, 0};
    builder_t buffers[BUFFERS];
    uint64_t next_tag = 0;
    for (int i = 0; i < BUFFERS; i++)
        start(&buffers[i], &rng, next_tag++);
    for (long step = 0; step < appends; step++) {
        builder_t *b = &buffers[step % BUFFERS];
        append(&sums, b, rng_size(&rng, 1, 64));
        if (b->len >= b->target) {
            finish_buffer(&sums, b);
            start(b, &rng, next_tag++);
        }
    }
    for (int i = 0; i < BUFFERS; i++)
        if (buffers[i].p != NULL)
            finish_buffer(&sums, &buffers[i]);
    return finish("realloc", &sums);
}
