#include "nrnm/runtime/cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>

namespace nrnm {

namespace {

constexpr size_t kMinCached = 64 * 1024;  // smaller requests: alloc_cpu / free_cpu
constexpr size_t kRound = 4096;

size_t default_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  const size_t quarter = pages > 0 && page > 0 ? size_t(pages) * size_t(page) / 4 : 0;
  const size_t cap = size_t(4) << 30;
  return quarter == 0 ? cap : std::min(quarter, cap);
}

// Never destroyed: tensors may be freed during static destruction.
struct Cache {
  std::mutex mutex;
  std::unordered_map<void*, size_t> sizes;   // every large block of ours, live or cached
  std::multimap<size_t, void*> free_blocks;  // cached, by rounded size
  CpuCacheStats stats;

  void release_cached_locked() {
    for (const auto& [size, ptr] : free_blocks) {
      sizes.erase(ptr);
      c10::free_cpu(ptr);
    }
    free_blocks.clear();
    stats.cached_bytes = 0;
  }
};

Cache& cache() {
  static Cache* instance = new Cache();
  return *instance;
}

void deallocate(void* ptr) {
  if (ptr == nullptr) return;
  Cache& c = cache();
  std::unique_lock<std::mutex> lock(c.mutex);
  const auto it = c.sizes.find(ptr);
  if (it == c.sizes.end()) {  // a small block
    lock.unlock();
    c10::free_cpu(ptr);
    return;
  }
  const size_t size = it->second;
  c.stats.live_bytes -= size;
  if (c.stats.enabled && c.stats.cached_bytes + size <= c.stats.limit_bytes) {
    c.free_blocks.emplace(size, ptr);
    c.stats.cached_bytes += size;
    return;
  }
  c.sizes.erase(it);
  lock.unlock();
  c10::free_cpu(ptr);
}

// c10::alloc_cpu reports a failed allocation as a plain c10::Error in
// LibTorch 1.x (c10::OutOfMemoryError in 2.x). Callers get a
// c10::OutOfMemoryError (the binding's ERR_OOM) in both, after one retry
// without the cached blocks, with a message that says what was asked for
// instead of alloc_cpu's "[enforce fail at alloc_cpu.cpp:75] err == 0".
void* alloc_or_oom(size_t n) {
  try {
    return c10::alloc_cpu(n);
  } catch (const c10::Error&) {  // OutOfMemoryError included
  }
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.release_cached_locked();
  }
  try {
    return c10::alloc_cpu(n);
  } catch (const c10::Error&) {
    TORCH_CHECK_WITH(OutOfMemoryError, false, "out of host memory: cannot allocate ", n, " bytes (",
                     static_cast<double>(n) / double(1 << 30), " GiB)");
  }
  return nullptr;
}

void* allocate_block(size_t n) {
  if (n < kMinCached) return alloc_or_oom(n);
  const size_t size = (n + kRound - 1) / kRound * kRound;
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    const auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end()) {
      void* ptr = it->second;
      c.free_blocks.erase(it);
      c.stats.cached_bytes -= size;
      c.stats.live_bytes += size;
      ++c.stats.hits;
      return ptr;
    }
    ++c.stats.misses;
    // A miss with a full cache: the shapes changed; do not keep stale blocks.
    if (c.stats.cached_bytes + size > c.stats.limit_bytes) c.release_cached_locked();
  }
  void* ptr = alloc_or_oom(size);
  std::lock_guard<std::mutex> lock(c.mutex);
  c.sizes.emplace(ptr, size);
  c.stats.live_bytes += size;
  return ptr;
}

// c10::Allocator changed across the LibTorch versions nrnm builds against:
// allocate() is const in 1.x and not in 2.x, and 2.x adds the pure virtual
// copy_data(). Both allocate() overloads and copy_data() are declared
// without `override`, so that each version overrides what it has; a version
// where neither matched would leave the class abstract and fail to compile
// at `caching_allocator` below.
class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const {  // LibTorch 1.x
    void* ptr = allocate_block(n);
    // data == context, so raw_allocate / raw_deallocate work too.
    return {ptr, ptr, &deallocate, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DataPtr allocate(size_t n) {  // LibTorch 2.x
    return static_cast<const CachingCpuAllocator*>(this)->allocate(n);
  }
  void copy_data(void* dest, const void* src, std::size_t count) const {  // LibTorch 2.x
    std::memcpy(dest, src, count);
  }
  c10::DeleterFnPtr raw_deleter() const override { return &deallocate; }
};

CachingCpuAllocator caching_allocator;
constexpr uint8_t kPriority = 1;  // above LibTorch's default registration (0)
bool installed = false;           // guarded by cache().mutex

void install_locked() {
  if (installed) return;
  c10::SetCPUAllocator(&caching_allocator, kPriority);
  installed = true;
}

}  // namespace

void enable_cpu_caching_allocator(size_t limit_bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.limit_bytes = limit_bytes > 0 ? limit_bytes : default_limit();
  install_locked();
  c.stats.enabled = true;
}

void disable_cpu_caching_allocator() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  install_locked();
  c.stats.enabled = false;
  c.release_cached_locked();
}

void empty_cpu_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.release_cached_locked();
}

CpuCacheStats cpu_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

}  // namespace nrnm
