#pragma once

// Whether a CUDA binary holds code a GPU can run, decided from the
// architectures it was compiled for (CMake passes them in, cmake/NRNMCudaArchitectures.cmake)
// and the GPU's compute capability. Pure C++ (no CUDA, no LibTorch), so the
// C++ tests drive it with made-up GPUs on a machine without one.

#include <string>
#include <vector>

namespace nrnm {

/// Architectures as CMake writes them without the suffix: 75 is sm_75 / compute_75.
struct KernelImages {
  std::vector<int> sass;  ///< machine code (cubin) per architecture
  std::vector<int> ptx;   ///< PTX the driver JIT-compiles for newer GPUs
  /// Empty lists: the build did not say (CMAKE_CUDA_ARCHITECTURES=native/all);
  /// then the CUDA runtime's own answer decides.
  bool known() const { return !sass.empty() || !ptx.empty(); }
};

/// "75,80-real,90a" -> {75, 80, 90}; anything unparsable is skipped.
std::vector<int> parse_architectures(const std::string& list);

struct KernelImageChoice {
  bool usable = false;
  bool jit = false;  ///< runs from PTX (compiled by the driver at first launch)
  int image = 0;     ///< the architecture that runs (sass or ptx), 0 if none
};

/// Machine code sm_XY runs on compute capability X.y with y >= Y; PTX of
/// compute_A is JIT-compiled on any capability >= A. Machine code wins over PTX.
KernelImageChoice choose_kernel_image(const KernelImages& images, int major, int minor);

/// "sm_75, sm_80 and PTX for compute_75".
std::string describe_images(const KernelImages& images);

/// A GPU as the CUDA runtime describes it (cudaDeviceProp), or made up in tests.
struct GpuFacts {
  int device = 0;
  std::string name;
  int major = 0;
  int minor = 0;
};

/// The one stderr line a GPU without a usable image gets: which GPU, what the
/// binary holds, what happens instead and how to build for it (with a CUDA 12
/// toolkit where `toolkit_major`, the CUDA of this build, cannot: 13 dropped
/// sm_70). `cause` is the CUDA runtime's own error when that decided (may be empty).
std::string kernel_fallback_message(const KernelImages& images, const GpuFacts& gpu, int toolkit_major,
                                    const std::string& cause);

struct KernelDecision {
  bool fused = true;    ///< false: this GPU takes the reference recurrence
  std::string message;  ///< why, for stderr (empty when fused)
};

/// The decision before the first fused launch on a GPU: fused when the
/// compiled architectures cover its capability (or were not recorded) and the
/// CUDA runtime found an image (`runtime_error` empty; else its
/// cudaFuncGetAttributes error, e.g. "no kernel image is available ...").
KernelDecision decide_kernels(const KernelImages& images, const GpuFacts& gpu, int toolkit_major,
                              const std::string& runtime_error);

}  // namespace nrnm
