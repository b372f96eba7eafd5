// Which GPUs a CUDA binary's kernels run on, with made-up compute
// capabilities: the decision lstm_segment takes before its first fused launch.

#include "nrnm/runtime/kernel_image.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace {

using nrnm::choose_kernel_image;
using nrnm::decide_kernels;
using nrnm::GpuFacts;
using nrnm::KernelDecision;
using nrnm::KernelImages;

// The CUDA 13 default (cmake/NRNMCudaArchitectures.cmake): sm_75..sm_120, PTX of sm_75.
const KernelImages kCuda13{{75, 80, 86, 90, 100, 120}, {75}};
// The old default: sm_80, sm_90 and PTX of sm_90.
const KernelImages kOld{{80, 90}, {90}};

TEST(KernelImage, ParsesCMakeArchitectureLists) {
  EXPECT_EQ(nrnm::parse_architectures("75,80,86"), (std::vector<int>{75, 80, 86}));
  EXPECT_EQ(nrnm::parse_architectures("90a,100f,,x,90"), (std::vector<int>{90, 100}));
  EXPECT_TRUE(nrnm::parse_architectures("").empty());
}

TEST(KernelImage, MachineCodeRunsOnItsMajorWithSameOrNewerMinor) {
  const auto a100 = choose_kernel_image(kOld, 8, 0);
  EXPECT_TRUE(a100.usable);
  EXPECT_FALSE(a100.jit);
  EXPECT_EQ(a100.image, 80);
  // An RTX 3090 (8.6) runs sm_80 code; with sm_86 in the binary, sm_86.
  EXPECT_EQ(choose_kernel_image(kOld, 8, 6).image, 80);
  EXPECT_EQ(choose_kernel_image(kCuda13, 8, 6).image, 86);
  EXPECT_EQ(choose_kernel_image(kCuda13, 8, 9).image, 86);  // L4, RTX 4090
  EXPECT_EQ(choose_kernel_image(kCuda13, 12, 0).image, 120);
}

TEST(KernelImage, PtxJitsOnAnyNewerCapability) {
  // sm_90 machine code does not run on Blackwell; the PTX does, JIT-compiled.
  const auto b200 = choose_kernel_image(kOld, 10, 0);
  EXPECT_TRUE(b200.usable);
  EXPECT_TRUE(b200.jit);
  EXPECT_EQ(b200.image, 90);
  const auto thor = choose_kernel_image(kCuda13, 11, 0);  // sm_110: only the PTX
  EXPECT_TRUE(thor.usable);
  EXPECT_TRUE(thor.jit);
  EXPECT_EQ(thor.image, 75);
}

TEST(KernelImage, OlderGpusThanEveryImageAreNotUsable) {
  // A T4 (7.5) and a V100 (7.0) with the old sm_80/sm_90 binary: the case
  // that used to fail with "no kernel image is available".
  EXPECT_FALSE(choose_kernel_image(kOld, 7, 5).usable);
  EXPECT_FALSE(choose_kernel_image(kOld, 7, 0).usable);
  EXPECT_TRUE(choose_kernel_image(kCuda13, 7, 5).usable);
  EXPECT_FALSE(choose_kernel_image(kCuda13, 7, 0).usable);
  // sm_80 machine code alone does not run on 9.0 (other major), PTX-less.
  EXPECT_FALSE(choose_kernel_image(KernelImages{{80}, {}}, 9, 0).usable);
  EXPECT_FALSE(choose_kernel_image(KernelImages{}, 8, 0).usable);
}

TEST(KernelImage, FallbackMessageSaysWhatWhyAndHowToBuild) {
  const GpuFacts t4{0, "Tesla T4", 7, 5};
  const std::string message = nrnm::kernel_fallback_message(kOld, t4, 13, "");
  EXPECT_EQ(message,
            "nrnm: GPU 0 (Tesla T4, compute capability 7.5): this nrnm-native binary has no fused LSTM kernel it can "
            "run (it holds sm_80, sm_90 and PTX for compute_90 (runs on compute capability 9.0 and newer)), so this "
            "GPU runs the reference recurrence (same results, slower). To build the kernels for it: CUDAARCHS=75 "
            "npx nrnm-native build");
  EXPECT_NE(nrnm::kernel_fallback_message(KernelImages{}, GpuFacts{1, "X", 8, 0}, 13, "no kernel image is available")
                .find("CUDA says: no kernel image is available"),
            std::string::npos);
  // A V100 under a CUDA 13 build: CUDAARCHS alone cannot help.
  const std::string v100 = nrnm::kernel_fallback_message(kCuda13, GpuFacts{0, "Tesla V100-SXM2-16GB", 7, 0}, 13, "");
  EXPECT_NE(v100.find("To build the kernels for it: CUDA 13 cannot compile for 7.0; with a CUDA 12 torch and toolkit, "
                      "CUDAARCHS=70 npx nrnm-native build"),
            std::string::npos)
      << v100;
  EXPECT_EQ(nrnm::kernel_fallback_message(kOld, GpuFacts{0, "V100", 7, 0}, 12, "").find("CUDA 12 cannot"),
            std::string::npos);
}

// The whole decision lstm_segment takes before its first fused launch on a
// device (native/kernels/lstm_pointwise.cu feeds it cudaDeviceProp and
// cudaFuncGetAttributes), with made-up GPUs.
TEST(KernelImage, DecidesFusedOrReferencePerGpu) {
  const int cuda13 = 13;
  EXPECT_TRUE(decide_kernels(kCuda13, GpuFacts{0, "Tesla T4", 7, 5}, cuda13, "").fused);
  EXPECT_TRUE(decide_kernels(kCuda13, GpuFacts{0, "NVIDIA H100 80GB HBM3", 9, 0}, cuda13, "").fused);
  EXPECT_TRUE(decide_kernels(kCuda13, GpuFacts{0, "NVIDIA Thor", 11, 0}, cuda13, "").fused);  // PTX JIT
  EXPECT_TRUE(decide_kernels(kCuda13, GpuFacts{0, "T4", 7, 5}, cuda13, "").message.empty());

  // Not covered by the compiled list: the reference, with the one line.
  const KernelDecision v100 = decide_kernels(kCuda13, GpuFacts{0, "Tesla V100-SXM2-16GB", 7, 0}, cuda13, "");
  EXPECT_FALSE(v100.fused);
  EXPECT_EQ(v100.message,
            "nrnm: GPU 0 (Tesla V100-SXM2-16GB, compute capability 7.0): this nrnm-native binary has no fused LSTM "
            "kernel it can run (it holds sm_75, sm_80, sm_86, sm_90, sm_100, sm_120 and PTX for compute_75 (runs on "
            "compute capability 7.5 and newer)), so this GPU runs the reference recurrence (same results, slower). "
            "To build the kernels for it: CUDA 13 cannot compile for 7.0; with a CUDA 12 torch and toolkit, "
            "CUDAARCHS=70 npx nrnm-native build");
  // The line as a user sees it on stderr (also the README's example).
  std::printf("fallback message: %s\n", v100.message.c_str());

  // Covered on paper, but the runtime found no image (e.g. a binary stripped
  // or built with another list): its answer wins.
  const KernelDecision refused = decide_kernels(kCuda13, GpuFacts{1, "NVIDIA A100-SXM4-40GB", 8, 0}, cuda13,
                                                "no kernel image is available for execution on the device");
  EXPECT_FALSE(refused.fused);
  EXPECT_NE(refused.message.find("GPU 1 (NVIDIA A100-SXM4-40GB, compute capability 8.0)"), std::string::npos);
  EXPECT_NE(refused.message.find("CUDA says: no kernel image is available for execution on the device"),
            std::string::npos);

  // No list recorded (CMAKE_CUDA_ARCHITECTURES=native): only the runtime decides.
  EXPECT_TRUE(decide_kernels(KernelImages{}, GpuFacts{0, "T4", 7, 5}, cuda13, "").fused);
  EXPECT_FALSE(decide_kernels(KernelImages{}, GpuFacts{0, "T4", 7, 5}, cuda13, "invalid device function").fused);
}

}  // namespace
