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
  std::string torch_version;      // e.g. "1.13.0"
  bool built_with_cuda = false;   // this binary compiled the CUDA paths
  bool cuda_available = false;    // LibTorch sees a usable GPU
  int64_t cuda_runtime_version = 0;  // e.g. 13000, 0 when none
  int64_t cuda_driver_version = 0;
  int64_t cudnn_version = 0;         // e.g. 91000, 0 when none
  std::vector<GpuInfo> gpus;
  int64_t intra_op_threads = 0;
  int64_t inter_op_threads = 0;
  std::string parallel_info;  // at::get_parallel_info(): OpenMP, MKL, ...
};

RuntimeInfo runtime_info();

/// Sets LibTorch's intra-op threads (and BLAS threads where it can). 0 keeps.
void set_threads(int64_t intra_op);

}  // namespace nrnm
