#pragma once
// What this process's LibTorch can do: version, CUDA, GPUs, threads.
#include <cstdint>
#include <string>
#include <vector>

namespace nrnm {

struct GpuInfo {
  int64_t index = 0;
  std::string name;
  int64_t total_memory_bytes = 0;
  int64_t compute_capability_major = 0;
  int64_t compute_capability_minor = 0;
  int64_t multiprocessors = 0;
};

struct RuntimeInfo {
  std::string torch_version;         // e.g. "1.13.0"
  bool built_with_cuda = false;      // this binary compiled the CUDA paths
  bool cuda_available = false;       // LibTorch sees a usable GPU
  int64_t cuda_runtime_version = 0;  // e.g. 13000, 0 when none
  int64_t cuda_driver_version = 0;
  int64_t cudnn_version = 0;  // e.g. 91000, 0 when none
  std::vector<GpuInfo> gpus;
  int64_t intra_op_threads = 0;
  int64_t inter_op_threads = 0;
  std::string parallel_info;  // at::get_parallel_info(): OpenMP, MKL, ...
  int64_t blas_threads = 0;   // OpenBLAS's own thread count, 0 when not OpenBLAS
  std::string blas;           // openblas_get_config(), or "" when not OpenBLAS
};

RuntimeInfo runtime_info();

/// Sets LibTorch's intra-op threads (and BLAS threads where it can). 0 keeps.
void set_threads(int64_t intra_op);

/// OpenBLAS (Debian's LibTorch calls it for every CPU matmul) keeps its own
/// thread pool, sized when the library loads (OPENBLAS_NUM_THREADS, else all
/// cores), separate from ATen's OpenMP threads. Found at run time with dlsym,
/// so nothing links against OpenBLAS. Returns false when the loaded BLAS is
/// not OpenBLAS (MKL builds, CUDA wheels with their own BLAS). n > 0.
bool set_blas_threads(int64_t n);
/// OpenBLAS's current thread count; 0 when the BLAS is not OpenBLAS.
int64_t blas_threads();

/// The CPU defaults of nrnm, applied once per process (the addon when it
/// loads, nrnm_bench at start), measured on Debian's LibTorch 1.13 +
/// OpenBLAS 0.3.21 (README "Performance"):
///  - threads, when the BLAS is OpenBLAS (Debian's LibTorch): ONE ATen
///    intra-op thread, and OpenBLAS keeps its own default (one thread per
///    core). The step time is in the GEMMs, which OpenBLAS parallelises;
///    ATen's OpenMP threads add nothing to it and, spinning next to
///    OpenBLAS's threads, made NRNM and the LSTM up to 4x slower with 2 + 2
///    threads on 2 cores. With MKL / oneDNN (PyTorch's wheels), whose GEMMs
///    run on ATen's threads, LibTorch's own default stays (one per core:
///    NRNM small 131 -> 81 ms/step on LibTorch 2.13, 2 cores). Skipped when the user set
///    OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS or
///    GOTO_NUM_THREADS; later set_threads() calls win.
///  - the caching CPU allocator of cpu_allocator.h; NRNM_CPU_CACHE=0 in the
///    environment installs it without a cache (every request goes to
///    LibTorch's alloc_cpu / free_cpu; failures stay typed as out of memory).
/// Idempotent.
void apply_cpu_defaults();

}  // namespace nrnm
