#pragma once

// The LibTorch API differences between the versions nrnm builds against
// (Debian's 1.13 and PyTorch 2.x wheels), in one place.

#include <ATen/autocast_mode.h>
#include <sstream>
#include <string>
#include <type_traits>
#include <torch/optim/optimizer.h>
#include <torch/version.h>

// LibTorch 2.4 made the autocast API device-generic and deprecated the
// CUDA-specific set_enabled / set_autocast_gpu_dtype of 1.x-2.3.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NRNM_AUTOCAST_DEVICE_API 1
#else
#define NRNM_AUTOCAST_DEVICE_API 0
#endif

namespace nrnm {

namespace detail {
template <typename Key>
Key optimizer_state_key_as(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    // What LibTorch 1.x's c10::guts::to_string did (gone in 2.x): the
    // address as an ostream prints it.
    std::ostringstream key;
    key << impl;
    return key.str();
  } else {
    return static_cast<Key>(impl);
  }
}
}  // namespace detail

/// The key of a parameter in Optimizer::state(): its TensorImpl address, as
/// a string in LibTorch 1.x and as a pointer in 2.x.
inline auto optimizer_state_key(const torch::Tensor& param) {
  using Key = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;
  return detail::optimizer_state_key_as<Key>(param.unsafeGetTensorImpl());
}

/// Whether autocast is on for CUDA or the CPU in this thread.
inline bool autocast_active() {
#if NRNM_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(at::kCUDA) || at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_enabled() || at::autocast::is_cpu_enabled();
#endif
}

// bfloat16 autocast on CUDA for the forward pass, like
// `with torch.autocast('cuda', dtype=torch.bfloat16):` (restores on exit).
class CudaAutocastGuard {
 public:
  explicit CudaAutocastGuard(bool enabled) : enabled_(enabled) {
    if (!enabled_) {
      return;
    }
#if NRNM_AUTOCAST_DEVICE_API
    prev_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    prev_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    prev_enabled_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
    at::autocast::increment_nesting();
  }

  ~CudaAutocastGuard() {
    if (!enabled_) {
      return;
    }
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
#if NRNM_AUTOCAST_DEVICE_API
    at::autocast::set_autocast_enabled(at::kCUDA, prev_enabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, prev_dtype_);
#else
    at::autocast::set_enabled(prev_enabled_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
#endif
  }

  CudaAutocastGuard(const CudaAutocastGuard&) = delete;
  CudaAutocastGuard& operator=(const CudaAutocastGuard&) = delete;

 private:
  bool enabled_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kHalf;
};

}  // namespace nrnm
