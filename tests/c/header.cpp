// header.cpp — include/goheap.h used from C++ (extern "C" linkage), calling
// every goheap_ function; tests/c_abi.rs links it against libgoheap.a.
#include "goheap.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

static bool aligned(const void *p, std::size_t a) {
    return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

int main() {
    int failures = 0;
    auto check = [&](bool ok, const char *what) {
        if (!ok) {
            std::fprintf(stderr, "header.cpp: %s failed\n", what);
            failures++;
        }
    };
    void *p = goheap_malloc(100);
    check(p && aligned(p, 16) && goheap_malloc_usable_size(p) >= 100, "goheap_malloc");
    p = goheap_realloc(p, 1000);
    check(p && goheap_malloc_usable_size(p) >= 1000, "goheap_realloc");
    p = goheap_reallocarray(p, 10, 200);
    check(p && goheap_malloc_usable_size(p) >= 2000, "goheap_reallocarray");
    goheap_free(p);
    unsigned char *z = static_cast<unsigned char *>(goheap_calloc(10, 10));
    check(z && z[0] == 0 && z[99] == 0, "goheap_calloc");
    goheap_free(z);
    void *q = nullptr;
    check(goheap_posix_memalign(&q, 256, 10) == 0 && aligned(q, 256), "goheap_posix_memalign");
    goheap_free(q);
    q = goheap_aligned_alloc(128, 256);
    check(q && aligned(q, 128), "goheap_aligned_alloc");
    goheap_free(q);
    q = goheap_memalign(64, 1);
    check(q && aligned(q, 64), "goheap_memalign");
    goheap_free(q);
    q = goheap_valloc(1);
    check(q && aligned(q, 4096), "goheap_valloc");
    goheap_free(q);
    q = goheap_pvalloc(1);
    check(q && aligned(q, 4096) && goheap_malloc_usable_size(q) >= 4096, "goheap_pvalloc");
    goheap_free(q);
    errno = 0;
    volatile std::size_t huge = SIZE_MAX / 2;
    check(goheap_malloc(huge) == nullptr && errno == ENOMEM, "goheap_malloc(huge)");
    check(goheap_malloc_usable_size(nullptr) == 0, "goheap_malloc_usable_size(NULL)");
    goheap_free(nullptr);
    std::printf("header.cpp: GOHEAP_VERSION %d.%d.%d, %s\n", GOHEAP_VERSION_MAJOR,
                GOHEAP_VERSION_MINOR, GOHEAP_VERSION_PATCH, failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
