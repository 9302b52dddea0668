/*
 * goheap.h — C API of goheap, the Go runtime's memory allocator rebuilt in
 * Rust (libgoheap.so / libgoheap.a).
 *
 * Two ways to use goheap from C/C++:
 *
 *  1. Replace malloc process-wide. libgoheap exports the standard malloc
 *     family (malloc, free, calloc, realloc, reallocarray, posix_memalign,
 *     aligned_alloc, memalign, valloc, pvalloc, malloc_usable_size, cfree)
 *     and glibc's internal aliases (__libc_malloc, __libc_free,
 *     __libc_calloc, __libc_realloc, __libc_memalign, __libc_valloc,
 *     __libc_pvalloc). Either preload the shared library:
 *         LD_PRELOAD=/path/to/libgoheap.so ./program
 *     or link it (statically: libgoheap.a, or dynamically: -lgoheap); the
 *     program's definitions then interpose on glibc's for the whole process,
 *     including allocations made inside libc, libstdc++ and the dynamic loader.
 *     C++ operator new/delete are not replaced: libstdc++'s operators call
 *     malloc/aligned_alloc/free and therefore use goheap, while keeping the
 *     standard new_handler / std::bad_alloc behaviour.
 *
 *  2. Call goheap explicitly through the goheap_-prefixed functions declared
 *     below. Each behaves exactly like the standard function of the same name
 *     (contracts below). The two sets share one heap: a block from
 *     goheap_malloc may be released with free() and vice versa when libgoheap
 *     provides the process's malloc, which is the case in both ways of use
 *     above.
 *
 * Common contract (all functions):
 *  - Thread safety: every function is thread-safe and may be called
 *    concurrently from any number of threads; a block may be freed or
 *    reallocated by a different thread than the one that allocated it. The
 *    functions are also safe to call in the child after fork() in a
 *    multi-threaded program. They are not async-signal-safe.
 *  - Alignment: every non-NULL result is aligned to at least 16 bytes
 *    (alignof(max_align_t)), whatever the size, or to the requested alignment
 *    if that is larger.
 *  - Size 0: requests of 0 bytes return a unique, non-NULL minimal block
 *    (except realloc(p, 0), which frees p, see below).
 *  - Out of memory: functions returning a pointer return NULL and set errno to
 *    ENOMEM. Requests larger than PTRDIFF_MAX, or whose size computation
 *    (n * size) overflows, fail the same way without touching the heap.
 *  - Invalid pointers: passing to free/realloc/malloc_usable_size (or their
 *    goheap_ forms) a pointer that goheap did not return, a pointer into the
 *    middle of a block, or a block that was already freed is a program error.
 *    goheap detects it, prints
 *        goheap: <function>(): invalid pointer 0x<address>
 *    or
 *        goheap: <function>(): double free 0x<address>
 *    on stderr and calls abort() (SIGABRT).
 *  - Environment: GOHEAP_VERBOSE=1 makes the library print one line naming
 *    goheap on stderr at process start (a value of "", 0, false, no or off
 *    disables it).
 */
#ifndef GOHEAP_H
#define GOHEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GOHEAP_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#define GOHEAP_NOTHROW __attribute__((nothrow))
#else
#define GOHEAP_MALLOC_ATTR
#define GOHEAP_NOTHROW
#endif

/* Version of the library these declarations describe. */
#define GOHEAP_VERSION_MAJOR 0
#define GOHEAP_VERSION_MINOR 1
#define GOHEAP_VERSION_PATCH 0

/*
 * Allocates size bytes, aligned to 16. The contents are unspecified.
 * Returns NULL and sets errno to ENOMEM when out of memory.
 */
GOHEAP_MALLOC_ATTR GOHEAP_NOTHROW void *goheap_malloc(size_t size);

/*
 * Releases p, a block returned by any goheap allocation function (or by the
 * standard names when goheap provides them). NULL is a no-op. Invalid
 * pointers and double frees abort (see the common contract). Does not modify
 * errno.
 */
GOHEAP_NOTHROW void goheap_free(void *p);

/*
 * Allocates n * size zero-filled bytes, aligned to 16. If n * size overflows
 * or memory is exhausted, returns NULL and sets errno to ENOMEM.
 */
GOHEAP_MALLOC_ATTR GOHEAP_NOTHROW void *goheap_calloc(size_t n, size_t size);

/*
 * Resizes p to size bytes, keeping the first min(old size, size) bytes; the
 * result may be p itself (resized in place) or a new block, in which case p
 * was freed. glibc semantics:
 *  - p == NULL: same as goheap_malloc(size).
 *  - size == 0 and p != NULL: frees p and returns NULL (errno untouched).
 *  - out of memory: returns NULL, sets errno to ENOMEM, and p is untouched
 *    and still owned by the caller.
 * Invalid p aborts (see the common contract). The result is aligned to 16.
 */
GOHEAP_NOTHROW void *goheap_realloc(void *p, size_t size);

/*
 * Same as goheap_realloc(p, n * size), except that when n * size overflows it
 * returns NULL, sets errno to ENOMEM and leaves p untouched.
 */
GOHEAP_NOTHROW void *goheap_reallocarray(void *p, size_t n, size_t size);

/*
 * POSIX posix_memalign: allocates size bytes aligned to alignment and stores
 * the address in *memptr. Returns 0 on success; EINVAL if alignment is not a
 * power of two multiple of sizeof(void *); ENOMEM when out of memory. On
 * failure *memptr is not modified. Never modifies errno.
 */
GOHEAP_NOTHROW int goheap_posix_memalign(void **memptr, size_t alignment, size_t size);

/*
 * C11 aligned_alloc: allocates size bytes aligned to alignment, which must be
 * a power of two (otherwise returns NULL with errno EINVAL, as glibc >= 2.38
 * does). size need not be a multiple of alignment. Out of memory: NULL with
 * ENOMEM. The block is released with goheap_free/free.
 */
GOHEAP_MALLOC_ATTR GOHEAP_NOTHROW void *goheap_aligned_alloc(size_t alignment, size_t size);

/*
 * Obsolete memalign, with glibc semantics: an alignment of 16 or less behaves
 * as goheap_malloc; an alignment that is not a power of two is rounded up to
 * the next power of two; an alignment above SIZE_MAX / 2 + 1 fails with NULL
 * and errno EINVAL. Out of memory: NULL with ENOMEM.
 */
GOHEAP_MALLOC_ATTR GOHEAP_NOTHROW void *goheap_memalign(size_t alignment, size_t size);

/*
 * Obsolete valloc: goheap_memalign(page size, size).
 */
GOHEAP_MALLOC_ATTR GOHEAP_NOTHROW void *goheap_valloc(size_t size);

/*
 * Obsolete pvalloc: like goheap_valloc, with size rounded up to a multiple of
 * the page size (overflow: NULL with ENOMEM).
 */
GOHEAP_MALLOC_ATTR GOHEAP_NOTHROW void *goheap_pvalloc(size_t size);

/*
 * Returns the number of bytes usable at p, which is at least the size that
 * was requested for it (the whole usable size may be written). Returns 0 for
 * NULL. Invalid p aborts (see the common contract).
 */
GOHEAP_NOTHROW size_t goheap_malloc_usable_size(void *p);

/* ------------------------------------------------------------------------
 * Statistics and releasing memory (like Go's runtime.MemStats and
 * debug.FreeOSMemory). Small-object counts move in batches: an object counts
 * as allocated from when a thread's cache takes it until the cache gives it
 * back, so heap_alloc includes free objects cached by threads.
 * ------------------------------------------------------------------------ */

#define GOHEAP_NUM_SIZE_CLASSES 68

struct goheap_size_class {
    uint64_t size;    /* object size in bytes; 0 for large objects */
    uint64_t mallocs; /* objects allocated, ever */
    uint64_t frees;   /* objects freed, ever */
};

struct goheap_stats {
    uint64_t heap_alloc;    /* bytes of allocated objects */
    uint64_t total_alloc;   /* bytes allocated, ever */
    uint64_t mallocs;       /* objects allocated, ever */
    uint64_t frees;         /* objects freed, ever */
    uint64_t heap_sys;      /* heap memory mapped from the OS */
    uint64_t heap_inuse;    /* bytes in spans in use */
    uint64_t heap_idle;     /* bytes in free spans (heap_sys - heap_inuse) */
    uint64_t heap_released; /* bytes of free spans returned to the OS */
    uint64_t metadata_sys;  /* memory mapped for goheap's own metadata */
    uint64_t arenas;        /* 64 MiB heap arenas reserved */
    struct goheap_size_class by_size[GOHEAP_NUM_SIZE_CLASSES]; /* [0]: large */
};

/* Fills *out with the current statistics (nothing if out is NULL). */
GOHEAP_NOTHROW void goheap_stats(struct goheap_stats *out);

/*
 * Hands back to the OS everything goheap can now: the calling thread's cached
 * objects and every free page. Returns the bytes released. malloc_trim(0)
 * does the same (and returns 1 if anything was released). goheap also
 * releases idle memory by itself, from a background thread.
 */
GOHEAP_NOTHROW size_t goheap_release(void);

/* Prints the statistics to stderr (as malloc_stats() does). */
GOHEAP_NOTHROW void goheap_print_stats(void);

/*
 * Goroutines (goheap's G-M-P scheduler). fn(arg) runs in a goroutine on one
 * of GOHEAP_MAXPROCS threads (default: the CPUs); arg must be usable from
 * another thread. Waiting calls park the goroutine, not its thread; called
 * from a plain thread (main included) they block that thread. A goroutine's
 * stack is GOHEAP_STACK bytes (default 64 KiB) with a guard page: overflow
 * ends the process with "goheap: goroutine N stack overflow".
 * A goroutine may resume on another OS thread after any waiting call: fn must
 * not keep a pointer to thread-local data (__thread, pthread keys) across
 * one unless it called goheap_lock_os_thread() first.
 */
GOHEAP_NOTHROW int goheap_go(void (*fn)(void *), void *arg); /* 0, -1 if fn is NULL */
GOHEAP_NOTHROW void goheap_yield(void);
GOHEAP_NOTHROW void goheap_sleep_ns(uint64_t ns);
/* Runs fn(arg), which may block its thread, with this goroutine's processor
 * handed to another thread meanwhile (and on the thread's own stack). */
GOHEAP_NOTHROW void goheap_blocking(void (*fn)(void *), void *arg);
GOHEAP_NOTHROW int goheap_gomaxprocs(void);
/* Wire the calling goroutine to its thread (thread-locals stay valid). */
GOHEAP_NOTHROW void goheap_lock_os_thread(void);
GOHEAP_NOTHROW void goheap_unlock_os_thread(void);

/* Go's sync.WaitGroup for goroutines and threads. */
typedef struct goheap_waitgroup goheap_waitgroup;
GOHEAP_NOTHROW goheap_waitgroup *goheap_waitgroup_new(void);
GOHEAP_NOTHROW void goheap_waitgroup_add(goheap_waitgroup *wg, int64_t n);
GOHEAP_NOTHROW void goheap_waitgroup_done(goheap_waitgroup *wg);
GOHEAP_NOTHROW void goheap_waitgroup_wait(goheap_waitgroup *wg);
GOHEAP_NOTHROW void goheap_waitgroup_free(goheap_waitgroup *wg);

/*
 * Heap profiles (GOHEAP_PROFILE=path): about one allocation per 512 KiB
 * allocated (GOHEAP_PROFILE_RATE=bytes) is sampled with its call stack, and
 * the profile is written in pprof's format (gzipped protobuf, `go tool pprof`
 * reads it) at exit and on goheap_dump_profile(). "%p" in the path is the
 * process id. Returns 0, ENOENT when GOHEAP_PROFILE is unset, or the errno of
 * the failed write.
 */
GOHEAP_NOTHROW int goheap_dump_profile(void);

/*
 * Channels (Go's chan and select) for C threads and goroutines alike.
 * Elements are blobs of the size given at make, copied in from and out to
 * the caller's buffers. Timeouts are in nanoseconds: < 0 waits for ever,
 * 0 does not wait, > 0 waits at most that long. Results: 0 done, or one of
 * the GOHEAP_CHAN_* codes. Sending on a closed channel fails (the value
 * stays with the caller); receiving on a closed channel drains what is
 * buffered, then fails.
 */
typedef struct goheap_chan goheap_chan;

#define GOHEAP_CHAN_CLOSED (-1)    /* closed (and, for a receive, drained) */
#define GOHEAP_CHAN_NOT_READY (-2) /* would wait / timed out */
#define GOHEAP_CHAN_INVALID (-3)   /* NULL channel, bad case */
#define GOHEAP_CHAN_RECV 0
#define GOHEAP_CHAN_SEND 1

/* One select case: receive into, or send from, elem. */
struct goheap_chan_case {
    goheap_chan *chan; /* NULL: never ready */
    int dir;           /* GOHEAP_CHAN_RECV or GOHEAP_CHAN_SEND */
    void *elem;
};

/* A channel of elem_size-byte elements buffering cap of them (0: unbuffered);
 * NULL if it cannot exist. Free it with goheap_chan_free once no thread
 * uses it. */
GOHEAP_NOTHROW goheap_chan *goheap_chan_make(size_t elem_size, size_t cap);
GOHEAP_NOTHROW void goheap_chan_free(goheap_chan *c);
GOHEAP_NOTHROW int goheap_chan_send(goheap_chan *c, const void *elem, int64_t timeout_ns);
GOHEAP_NOTHROW int goheap_chan_recv(goheap_chan *c, void *elem, int64_t timeout_ns);
/* 0, or GOHEAP_CHAN_CLOSED if it was closed already. */
GOHEAP_NOTHROW int goheap_chan_close(goheap_chan *c);
/* Completes one of up to 64 cases, chosen at random among the ready ones,
 * and returns its index, *ok (if not NULL) set to 1, or 0 if the case found
 * its channel closed; GOHEAP_CHAN_NOT_READY if none became ready in time. */
GOHEAP_NOTHROW int goheap_chan_select(const struct goheap_chan_case *cases, size_t n,
                                      int64_t timeout_ns, int *ok);

/*
 * The memory limit (Go's GOMEMLIMIT; GOHEAP_MEMLIMIT=N[B|KiB|MiB|GiB|TiB] or
 * off in the environment): a soft limit on all the memory goheap keeps from
 * the OS, malloc's heap, the GC heap and metadata together. Near it the
 * collector runs more often (at most about half of the CPU) and free pages
 * go back to the OS at once. Sets it to limit bytes and returns the
 * previous one; a negative limit only returns it; INT64_MAX is no limit.
 */
GOHEAP_NOTHROW int64_t goheap_set_memory_limit(int64_t limit);

#undef GOHEAP_MALLOC_ATTR
#undef GOHEAP_NOTHROW

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* GOHEAP_H */
