// The fused pointwise LSTM step on CUDA: per step, the recurrence runs one
// GEMM (h_{t-1} W_hh, cuBLAS through ATen) and one of these kernels, forward
// and backward, instead of about ten ATen kernels and their autograd nodes.
// The arithmetic is nrnm/lstm_pointwise.h, the same code the CPU loops run.

#include "kernels/lstm_pointwise_cuda.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

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

}  // namespace

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
