#include "nrnm/runtime/runtime_info.h"

#include "nrnm/runtime/cpu_allocator.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#ifdef NRNM_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime_api.h>
#endif

namespace nrnm {

namespace {

// OpenBLAS's thread controls, looked up in the libraries already loaded
// (LibTorch's dependencies); null when the BLAS is something else.
struct OpenBlasApi {
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
  char* (*get_config)() = nullptr;
};

const OpenBlasApi& openblas() {
  static const OpenBlasApi api = [] {
    OpenBlasApi found;
    void* handle = RTLD_DEFAULT;
    if (dlsym(handle, "openblas_set_num_threads") == nullptr) {
      // Not in this object's scope (e.g. loaded RTLD_LOCAL): the library
      // itself, only if it is already mapped.
      handle = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
      if (handle == nullptr) return found;
    }
    found.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
    found.get_num_threads = reinterpret_cast<int (*)()>(dlsym(handle, "openblas_get_num_threads"));
    found.get_config = reinterpret_cast<char* (*)()>(dlsym(handle, "openblas_get_config"));
    return found;
  }();
  return api;
}

}  // namespace

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  info.parallel_info = at::get_parallel_info();
  info.blas_threads = blas_threads();
  if (openblas().get_config != nullptr) info.blas = openblas().get_config();
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

bool set_blas_threads(int64_t n) {
  if (n <= 0 || openblas().set_num_threads == nullptr) return false;
  openblas().set_num_threads(static_cast<int>(n));
  return true;
}

int64_t blas_threads() { return openblas().get_num_threads != nullptr ? openblas().get_num_threads() : 0; }

void apply_cpu_defaults() {
  static std::once_flag once;
  std::call_once(once, [] {
    bool user_threads = false;
    for (const char* name : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS"}) {
      if (std::getenv(name) != nullptr) user_threads = true;  // the user chose
    }
    // Only where the BLAS keeps its own thread pool (OpenBLAS, as Debian's
    // LibTorch uses): with MKL and oneDNN (PyTorch's wheels) the GEMMs run
    // on ATen's OpenMP threads, and one thread would serialise them.
    if (!user_threads && openblas().set_num_threads != nullptr) at::set_num_threads(1);
    const char* cache = std::getenv("NRNM_CPU_CACHE");
    if (cache == nullptr || std::string(cache) != "0") {
      enable_cpu_caching_allocator();
    } else {
      disable_cpu_caching_allocator();  // installed without a cache: typed OOM errors
    }
  });
}

}  // namespace nrnm
