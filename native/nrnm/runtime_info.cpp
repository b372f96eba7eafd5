#include "nrnm/runtime_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#ifdef NRNM_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime_api.h>
#endif

namespace nrnm {

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  info.parallel_info = at::get_parallel_info();
  info.cuda_available = torch::cuda::is_available();
#ifdef NRNM_WITH_CUDA
  info.built_with_cuda = true;
  int version = 0;
  if (cudaRuntimeGetVersion(&version) == cudaSuccess) info.cuda_runtime_version = version;
  if (cudaDriverGetVersion(&version) == cudaSuccess) info.cuda_driver_version = version;
  if (at::globalContext().hasCuDNN()) {
    info.cudnn_version = at::detail::getCUDAHooks().versionCuDNN();
  }
  if (info.cuda_available) {
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    for (int64_t i = 0; i < count; ++i) {
      const cudaDeviceProp* prop = at::cuda::getDeviceProperties(static_cast<int>(i));
      GpuInfo gpu;
      gpu.index = i;
      gpu.name = prop->name;
      gpu.total_memory_bytes = static_cast<int64_t>(prop->totalGlobalMem);
      gpu.compute_capability_major = prop->major;
      gpu.compute_capability_minor = prop->minor;
      gpu.multiprocessors = prop->multiProcessorCount;
      info.gpus.push_back(gpu);
    }
  }
#endif
  return info;
}

void set_threads(int64_t intra_op) {
  if (intra_op > 0) at::set_num_threads(static_cast<int>(intra_op));
}

}  // namespace nrnm
