#pragma once

// The LibTorch API differences between the versions nrnm builds against
// (Debian's 1.13 and PyTorch 2.x wheels), in one place.

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// LibTorch 2.4 made the autocast API device-generic and deprecated the
// CUDA-specific set_enabled / set_autocast_gpu_dtype of 1.x-2.3.
#if TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define NRNM_AUTOCAST_DEVICE_API 1
#else
#define NRNM_AUTOCAST_DEVICE_API 0
#endif

namespace nrnm {

/// Whether autocast is on for CUDA or the CPU in this thread.
inline bool autocast_active() {
#if NRNM_AUTOCAST_DEVICE_API
  return at::autocast::is_autocast_enabled(at::kCUDA) ||
      at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_enabled() || at::autocast::is_cpu_enabled();
#endif
}

} // namespace nrnm
