#pragma once
// Device selection from the user's string: "cpu", "cuda", "cuda:N", "auto".
#include <string>

#include <c10/core/Device.h>

namespace nrnm {

/// Parses and checks a device string. "auto" picks cuda:0 when LibTorch has
/// CUDA and a GPU is visible, else the CPU. An explicit "cuda"/"cuda:N" that
/// cannot be honoured throws, saying why and what to do.
c10::Device resolve_device(const std::string& spec);

}  // namespace nrnm
