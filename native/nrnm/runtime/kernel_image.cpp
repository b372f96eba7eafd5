#include "nrnm/runtime/kernel_image.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace nrnm {

std::vector<int> parse_architectures(const std::string& list) {
  std::vector<int> out;
  std::stringstream items(list);
  std::string item;
  while (std::getline(items, item, ',')) {
    size_t digits = 0;
    while (digits < item.size() && std::isdigit(static_cast<unsigned char>(item[digits]))) ++digits;
    if (digits == 0) continue;
    const int arch = std::stoi(item.substr(0, digits));
    if (std::find(out.begin(), out.end(), arch) == out.end()) out.push_back(arch);
  }
  return out;
}

KernelImageChoice choose_kernel_image(const KernelImages& images, int major, int minor) {
  KernelImageChoice choice;
  const int capability = major * 10 + minor;
  // The newest machine code of the GPU's major that is not newer than the GPU.
  for (const int arch : images.sass) {
    if (arch / 10 == major && arch % 10 <= minor && arch > choice.image) choice.image = arch;
  }
  if (choice.image != 0) {
    choice.usable = true;
    return choice;
  }
  for (const int arch : images.ptx) {
    if (arch <= capability && arch > choice.image) choice.image = arch;
  }
  choice.usable = choice.image != 0;
  choice.jit = choice.usable;
  return choice;
}

std::string describe_images(const KernelImages& images) {
  if (!images.known()) return "the architectures the build chose (not recorded)";
  std::ostringstream out;
  for (size_t i = 0; i < images.sass.size(); ++i) {
    out << (i == 0 ? "" : ", ") << "sm_" << images.sass[i];
  }
  if (!images.ptx.empty()) {
    out << (images.sass.empty() ? "" : " and ") << "PTX for ";
    for (size_t i = 0; i < images.ptx.size(); ++i) out << (i == 0 ? "" : ", ") << "compute_" << images.ptx[i];
    out << " (runs on compute capability " << images.ptx.front() / 10 << "." << images.ptx.front() % 10
        << " and newer)";
  }
  return out.str();
}

std::string kernel_fallback_message(const KernelImages& images, const GpuFacts& gpu, int toolkit_major,
                                    const std::string& cause) {
  // The oldest capability each CUDA major still compiles for.
  const int capability = gpu.major * 10 + gpu.minor;
  const bool gpu_older_than_toolkit =
      (toolkit_major >= 13 && capability < 75) || (toolkit_major == 12 && capability < 50);
  std::ostringstream out;
  out << "nrnm: GPU " << gpu.device << " (" << gpu.name << ", compute capability " << gpu.major << "." << gpu.minor
      << "): this nrnm-native binary has no fused LSTM kernel it can run (it holds " << describe_images(images)
      << (cause.empty() ? "" : "; CUDA says: " + cause)
      << "), so this GPU runs the reference recurrence (same results, slower). To build the kernels for it: ";
  if (gpu_older_than_toolkit) {
    out << "CUDA " << toolkit_major << " cannot compile for " << gpu.major << "." << gpu.minor
        << "; with a CUDA 12 torch and toolkit, ";
  }
  out << "CUDAARCHS=" << capability << " npx nrnm-native build";
  return out.str();
}

KernelDecision decide_kernels(const KernelImages& images, const GpuFacts& gpu, int toolkit_major,
                              const std::string& runtime_error) {
  KernelDecision decision;
  const bool covered = !images.known() || choose_kernel_image(images, gpu.major, gpu.minor).usable;
  decision.fused = covered && runtime_error.empty();
  if (!decision.fused) decision.message = kernel_fallback_message(images, gpu, toolkit_major, runtime_error);
  return decision;
}

}  // namespace nrnm
