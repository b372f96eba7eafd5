// The fused pointwise LSTM step on CUDA: per step, the recurrence runs one
// GEMM (h_{t-1} W_hh, cuBLAS through ATen) and one of these kernels, forward
// and backward, instead of about ten ATen kernels and their autograd nodes.
// The arithmetic is nrnm/lstm_pointwise.h, the same code the CPU loops run.

#include "kernels/lstm_pointwise_cuda.h"

#include <cuda_runtime.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>

#include "nrnm/runtime/kernel_image.h"

// The architectures this file is compiled for, from CMake's list
// (cmake/NRNMCudaArchitectures.cmake); empty when the build did not say.
#ifndef NRNM_CUDA_SASS_ARCHS
#define NRNM_CUDA_SASS_ARCHS ""
#endif
#ifndef NRNM_CUDA_PTX_ARCHS
#define NRNM_CUDA_PTX_ARCHS ""
#endif

namespace nrnm {
namespace cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void step_forward_kernel(const pointwise::StepForward<T> a) {
  const int64_t total = a.B * a.H;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = e / a.H;
    pointwise::step_forward_element(a, b, e - b * a.H);
  }
}

template <typename T>
__global__ void step_backward_kernel(const pointwise::StepBackward<T> a) {
  const int64_t total = a.B * a.H;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = e / a.H;
    const int64_t j = e - b * a.H;
    pointwise::step_backward_row(a, b, j, j + 1);
  }
}

unsigned blocks_for(int64_t elements) {
  const int64_t blocks = (elements + kThreads - 1) / kThreads;
  // Grid-stride loops cover the rest; 65535 blocks saturate any current GPU.
  return static_cast<unsigned>(blocks < 65535 ? (blocks > 0 ? blocks : 1) : 65535);
}

void check_launch(const char* what) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("nrnm: CUDA launch of ") + what + " failed: " + cudaGetErrorString(status));
  }
}

// Per device: 0 not decided yet, 1 usable, 2 reference recurrence.
constexpr int kMaxDevices = 64;
std::atomic<int> device_state[kMaxDevices];
std::mutex decide_mutex;

bool decide(int device) {
  cudaDeviceProp props{};
  if (cudaGetDeviceProperties(&props, device) != cudaSuccess) {
    cudaGetLastError();
    return true;  // no answer: the launch reports whatever is wrong
  }
  // The runtime's own answer: it knows the fatbin it loaded (and covers
  // CMAKE_CUDA_ARCHITECTURES=native/all, whose list the build does not record).
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(device);
  cudaFuncAttributes attributes{};
  const cudaError_t status = cudaFuncGetAttributes(&attributes, step_forward_kernel<float>);
  cudaSetDevice(previous);
  cudaGetLastError();  // a failed query must not turn up as the next launch's error
  std::string runtime_error;
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorInvalidDeviceFunction) {
    runtime_error = cudaGetErrorString(status);
  }
  const KernelImages images{parse_architectures(NRNM_CUDA_SASS_ARCHS), parse_architectures(NRNM_CUDA_PTX_ARCHS)};
  const KernelDecision decision = decide_kernels(images, GpuFacts{device, props.name, props.major, props.minor},
                                                 __CUDACC_VER_MAJOR__, runtime_error);
  if (!decision.fused) std::fprintf(stderr, "%s\n", decision.message.c_str());
  return decision.fused;
}

}  // namespace

bool fused_kernels_usable(int device) {
  if (device < 0 || device >= kMaxDevices) return true;
  const int state = device_state[device].load(std::memory_order_acquire);
  if (state != 0) return state == 1;
  std::lock_guard<std::mutex> lock(decide_mutex);
  if (device_state[device].load(std::memory_order_relaxed) == 0) {
    device_state[device].store(decide(device) ? 1 : 2, std::memory_order_release);
  }
  return device_state[device].load(std::memory_order_relaxed) == 1;
}

template <typename T>
void launch_step_forward(const pointwise::StepForward<T>& step, void* stream) {
  step_forward_kernel<T><<<blocks_for(step.B * step.H), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(step);
  check_launch("the LSTM step forward");
}

template <typename T>
void launch_step_backward(const pointwise::StepBackward<T>& step, void* stream) {
  step_backward_kernel<T><<<blocks_for(step.B * step.H), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(step);
  check_launch("the LSTM step backward");
}

template void launch_step_forward<float>(const pointwise::StepForward<float>&, void*);
template void launch_step_forward<double>(const pointwise::StepForward<double>&, void*);
template void launch_step_backward<float>(const pointwise::StepBackward<float>&, void*);
template void launch_step_backward<double>(const pointwise::StepBackward<double>&, void*);

}  // namespace cuda
}  // namespace nrnm
