#include "nrnm/runtime/device.h"

#include <torch/cuda.h>
#include <c10/util/Exception.h>

namespace nrnm {

c10::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec == "auto") {
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  }
  TORCH_CHECK(spec == "cuda" || spec.rfind("cuda:", 0) == 0, "device must be 'cpu', 'cuda', 'cuda:N' or 'auto' (got '",
              spec, "')");
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(spec);
  } catch (const c10::Error&) {
    TORCH_CHECK(false, "device must be 'cpu', 'cuda', 'cuda:N' or 'auto' (got '", spec, "')");
  }
  TORCH_CHECK(torch::cuda::is_available(), "device '", spec,
              "' was requested but CUDA is not available: this LibTorch has ",
              "no CUDA or no GPU is visible. Use device 'cpu' or 'auto', or install a CUDA LibTorch ",
              "(see `nrnm-native info`).");
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  const int64_t index = device.has_index() ? device.index() : 0;
  TORCH_CHECK(index < count, "device '", spec, "' was requested but only ", count, " GPU(s) are visible (indices 0..",
              count - 1, ")");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace nrnm
