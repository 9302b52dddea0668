/* bigint.c — a big-integer calculator (the shape of cfrac): modular powers
 * of random numbers of 1–16 64-bit limbs, computed by an arithmetic that
 * allocates every result and frees its operands, so millions of
 * short-lived numbers of 16–264 bytes come and go in a few hundred live.
 * Each round checks a^(e1+e2) = a^e1 · a^e2 (mod m), so a corrupted limb
 * fails the run. */
#include "common.h"

typedef unsigned __int128 u128;

/* A natural number: n limbs, least significant first, top limb non-zero
 * (zero has n = 0). */
typedef struct {
    size_t n;
    uint64_t limb[];
} num_t;

static num_t *num_new(size_t n)
{
    num_t *x = xmalloc(sizeof(num_t) + 8 * (n ? n : 1));
    x->n = n;
    return x;
}

/* Drops top zero limbs. */
static num_t *normalize(num_t *x)
{
    while (x->n > 0 && x->limb[x->n - 1] == 0)
        x->n--;
    return x;
}

static num_t *num_random(rng_t *rng, size_t n)
{
    num_t *x = num_new(n);
    for (size_t i = 0; i < n; i++)
        x->limb[i] = rng_next(rng);
    return normalize(x);
}

/* Limbs [from, to) of x as a new number. */
static num_t *num_slice(const num_t *x, size_t from, size_t to)
{
    to = to < x->n ? to : x->n;
    size_t n = to > from ? to - from : 0;
    num_t *r = num_new(n);
    memcpy(r->limb, x->limb + from, 8 * n);
    return normalize(r);
}

static num_t *num_add(const num_t *a, const num_t *b)
{
    if (a->n < b->n) {
        const num_t *t = a;
        a = b;
        b = t;
    }
    num_t *r = num_new(a->n + 1);
    uint64_t carry = 0;
    for (size_t i = 0; i < a->n; i++) {
        u128 s = (u128)a->limb[i] + (i < b->n ? b->limb[i] : 0) + carry;
        r->limb[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    r->limb[a->n] = carry;
    return normalize(r);
}

/* a − b, for a ≥ b. */
static num_t *num_sub(const num_t *a, const num_t *b)
{
    num_t *r = num_new(a->n);
    uint64_t borrow = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t bi = i < b->n ? b->limb[i] : 0;
        u128 d = (u128)a->limb[i] - bi - borrow;
        r->limb[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
    return normalize(r);
}

static num_t *num_mul(const num_t *a, const num_t *b)
{
    num_t *r = num_new(a->n + b->n);
    memset(r->limb, 0, 8 * (a->n + b->n));
    for (size_t i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (size_t j = 0; j < b->n; j++) {
            u128 t = (u128)a->limb[i] * b->limb[j] + r->limb[i + j] + carry;
            r->limb[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        r->limb[i + b->n] = carry;
    }
    return normalize(r);
}

static int num_cmp(const num_t *a, const num_t *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (size_t i = a->n; i-- > 0;)
        if (a->limb[i] != b->limb[i])
            return a->limb[i] < b->limb[i] ? -1 : 1;
    return 0;
}

/* A modulus m = 2^(64·len) − c, with c small: reducing x = hi·2^(64·len) + lo
 * gives hi·c + lo (x mod m), repeated while x has more than len limbs. */
typedef struct {
    size_t len;
    num_t *c, *m;
} modulus_t;

/* x mod m; consumes x. */
static num_t *reduce(num_t *x, const modulus_t *m)
{
    while (x->n > m->len) {
        num_t *lo = num_slice(x, 0, m->len), *hi = num_slice(x, m->len, x->n);
        num_t *t = num_mul(hi, m->c);
        free(x);
        x = num_add(lo, t);
        free(lo);
        free(hi);
        free(t);
    }
    if (num_cmp(x, m->m) >= 0) {
        num_t *r = num_sub(x, m->m);
        free(x);
        x = r;
    }
    return x;
}

static num_t *mulmod(const num_t *a, const num_t *b, const modulus_t *m)
{
    return reduce(num_mul(a, b), m);
}

/* a^e mod m, by squaring and multiplying. */
static num_t *powmod(const num_t *a, uint64_t e, const modulus_t *m)
{
    num_t *r = num_new(1), *base = reduce(num_slice(a, 0, a->n), m);
    r->limb[0] = 1;
    for (; e > 0; e >>= 1) {
        if (e & 1) {
            num_t *t = mulmod(r, base, m);
            free(r);
            r = t;
        }
        num_t *sq = mulmod(base, base, m);
        free(base);
        base = sq;
    }
    free(base);
    return r;
}

static modulus_t modulus_new(rng_t *rng, size_t len)
{
    modulus_t m = {len, num_new(1), num_new(len)};
    m.c->limb[0] = rng_range(rng, 3, 1u << 20) | 1;
    for (size_t i = 0; i < len; i++)
        m.m->limb[i] = ~(uint64_t)0;
    m.m->limb[0] -= m.c->limb[0] - 1;
    return m;
}

int main(int argc, char **argv)
{
    workload_init(argc, argv);
    long rounds = scaled(60L * 1000);
    rng_t rng = {11};
    sums_t sums = {0, 0}; /* checksums of a^(e1+e2) and of a^e1 · a^e2 */
    for (long round = 0; round < rounds; round++) {
        modulus_t m = modulus_new(&rng, rng_size(&rng, 1, 16));
        num_t *a = num_random(&rng, m.len);
        uint64_t e1 = rng_range(&rng, 1, 1u << 12), e2 = rng_range(&rng, 1, 1u << 12);
        num_t *whole = powmod(a, e1 + e2, &m);
        num_t *p1 = powmod(a, e1, &m), *p2 = powmod(a, e2, &m);
        num_t *product = mulmod(p1, p2, &m);
        if (num_cmp(whole, product) != 0)
            fail("round %ld: a^(e1+e2) != a^e1 * a^e2 (mod m)", round);
        for (size_t i = 0; i < whole->n; i++) {
            sums.written = sums.written * 31 + whole->limb[i];
            sums.read = sums.read * 31 + product->limb[i];
        }
        free(a);
        free(whole);
        free(p1);
        free(p2);
        free(product);
        free(m.c);
        free(m.m);
    }
    return finish("bigint", &sums);
}
