#pragma once

// A caching CPU allocator for LibTorch. LibTorch's default CPU allocator
// hands every request to malloc, and glibc serves the large ones (a training
// step of the official config allocates buffers of 20-200 MB: gate
// pre-activations of the whole sequence, their gradients) with fresh mmap'd
// pages: the kernel faults in and zeroes every page again at every step
// (17% of a CPU training step of the official config, README
// "Performance"). This allocator keeps freed blocks of 64 KiB and more and
// hands them out again for requests of the same (4 KiB-rounded) size, like
// the CUDA caching allocator; smaller requests go to LibTorch's own
// alloc_cpu / free_cpu. Process-wide (c10::SetCPUAllocator); thread-safe.

#include <cstddef>
#include <cstdint>

namespace nrnm {

struct CpuCacheStats {
  bool enabled = false;
  size_t limit_bytes = 0;   // at most this much freed memory is kept
  size_t cached_bytes = 0;  // freed blocks held for reuse now
  size_t live_bytes = 0;    // blocks of >= 64 KiB handed out and not freed
  uint64_t hits = 0;        // large requests served from the cache
  uint64_t misses = 0;      // large requests that went to the system
};

/// Installs the allocator as LibTorch's CPU allocator and turns caching on.
/// limit_bytes: the most freed memory kept (0: a quarter of physical memory,
/// at most 4 GiB). When a request misses and the cache is full, the cache is
/// emptied first (a change of shapes does not leave stale blocks behind).
/// Idempotent.
void enable_cpu_caching_allocator(size_t limit_bytes = 0);
/// Turns caching off and frees the cached blocks (blocks still in use are
/// freed when their tensors go). The allocator stays (or is now) installed
/// and passes every request to LibTorch's alloc_cpu / free_cpu, so that a
/// failed allocation is a c10::OutOfMemoryError in every LibTorch version
/// (ERR_OOM in JS), not the plain c10::Error of LibTorch 1.x's allocator.
void disable_cpu_caching_allocator();
/// Frees the cached blocks (not those in use).
void empty_cpu_cache();
CpuCacheStats cpu_cache_stats();

}  // namespace nrnm
