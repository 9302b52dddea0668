// threads.cpp — a multi-threaded C++ program for goheap's preload and
// static-link tests (tests/preload.rs, tests/c_abi.rs).
//
// Uses std::thread, std::vector, std::string, std::map, std::unordered_map,
// std::shared_ptr and over-aligned types (aligned operator new → aligned_alloc),
// moves containers between threads (freed on a thread other than the one that
// allocated them), and checks that operator new still reports exhaustion the
// C++ way (new_handler, then std::bad_alloc; nullptr for nothrow) when malloc
// returns NULL. The output is deterministic and must be identical with and
// without goheap.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct alignas(64) Cacheline {
    std::uint64_t v[8];
};

struct alignas(4096) Page {
    unsigned char bytes[4096];
};

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// Work done by each thread; returns a checksum that only depends on `id`.
std::uint64_t work(int id, std::vector<std::string> &handoff_out) {
    std::uint64_t sum = 0;
    std::map<std::string, std::vector<int>> index;
    std::unordered_map<std::uint64_t, std::string> names;
    for (int i = 0; i < 20000; i++) {
        std::uint64_t k = mix(static_cast<std::uint64_t>(id) * 1000003u + i);
        std::string key = "k" + std::to_string(k % 5000);
        auto &vec = index[key];
        vec.push_back(i);
        if (vec.size() > 16)
            vec.erase(vec.begin(), vec.begin() + 8);
        names[k % 7919] = key + ":" + std::to_string(i);
        if (i % 1000 == 0) {
            std::ostringstream os;
            os << "thread " << id << " step " << i << " size " << index.size();
            handoff_out.push_back(os.str());
        }
    }
    for (auto &kv : index)
        sum += std::accumulate(kv.second.begin(), kv.second.end(), 0ULL) +
               kv.first.size();
    for (auto &kv : names)
        sum ^= mix(kv.first) + kv.second.size();

    // Over-aligned allocations through aligned new/delete.
    std::vector<std::unique_ptr<Cacheline>> lines;
    for (int i = 0; i < 1000; i++) {
        lines.emplace_back(new Cacheline{});
        if (reinterpret_cast<std::uintptr_t>(lines.back().get()) % 64 != 0) {
            std::fprintf(stderr, "misaligned Cacheline\n");
            std::abort();
        }
        lines.back()->v[i % 8] = static_cast<std::uint64_t>(i);
    }
    std::unique_ptr<Page[]> pages(new Page[4]);
    if (reinterpret_cast<std::uintptr_t>(pages.get()) % 4096 != 0) {
        std::fprintf(stderr, "misaligned Page\n");
        std::abort();
    }
    std::memset(pages.get(), id, sizeof(Page) * 4);
    for (auto &l : lines)
        sum += l->v[0];

    // Big strings and vectors (medium and large size classes).
    std::string big(1 << 20, static_cast<char>('a' + id % 26));
    std::vector<std::uint64_t> v(300000);
    std::iota(v.begin(), v.end(), static_cast<std::uint64_t>(id));
    std::sort(v.begin(), v.end(), [](std::uint64_t a, std::uint64_t b) { return mix(a) < mix(b); });
    sum += v.front() + big.size();
    return sum;
}

int new_handler_calls = 0;
void counting_handler() {
    new_handler_calls++;
    std::set_new_handler(nullptr);  // next failure throws
}

}  // namespace

int main() {
    const int kThreads = 8;
    std::vector<std::uint64_t> sums(kThreads);
    std::vector<std::vector<std::string>> handoff(kThreads);
    std::mutex mu;
    std::vector<std::shared_ptr<std::vector<std::string>>> shared;

    for (int round = 0; round < 3; round++) {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; t++)
            threads.emplace_back([&, t] {
                std::vector<std::string> out;
                sums[t] ^= work(t + round * kThreads, out);
                auto sp = std::make_shared<std::vector<std::string>>(std::move(out));
                std::lock_guard<std::mutex> g(mu);
                shared.push_back(sp);  // freed later by the main thread
                handoff[t].insert(handoff[t].end(), sp->begin(), sp->end());
            });
        for (auto &th : threads)
            th.join();
    }
    for (int t = 0; t < kThreads; t++)
        std::printf("thread %d: checksum %016llx, %zu messages, first \"%s\"\n", t,
                    static_cast<unsigned long long>(sums[t]), handoff[t].size(),
                    handoff[t].front().c_str());
    shared.clear();

    // Exhaustion: nothrow new gives nullptr; throwing new calls the handler,
    // then throws std::bad_alloc.
    volatile std::size_t huge = SIZE_MAX / 2;
    char *p = new (std::nothrow) char[huge];
    std::printf("nothrow new(huge): %s\n", p ? "non-null" : "nullptr");
    delete[] p;
    std::set_new_handler(counting_handler);
    try {
        char *q = new char[huge];
        std::printf("new(huge) returned %p\n", static_cast<void *>(q));
        delete[] q;
    } catch (const std::bad_alloc &) {
        std::printf("new(huge): std::bad_alloc after %d new_handler call(s)\n",
                    new_handler_calls);
    }
    try {
        auto *r = new Page[huge / sizeof(Page) / 2];
        std::printf("aligned new(huge) returned %p\n", static_cast<void *>(r));
        delete[] r;
    } catch (const std::bad_alloc &) {
        std::printf("aligned new(huge): std::bad_alloc\n");
    }
    std::printf("done\n");
    return 0;
}
