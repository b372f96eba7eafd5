#pragma once

// Loading a state dict by name into a module: what
// NRNMClassifier.fromPyTorch() and loadStateDict() need once src/ has mapped
// the official names (src/official.ts) and read the tensors.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

namespace nrnm {

/// Copies tensors[name] into every parameter `name` of `module` (any dtype
/// and device; converted to the parameter's), under no_grad. Strict and all
/// or nothing: every parameter must be there exactly once with its shape and
/// nothing else may be. Throws nrnm::FormatError for a missing or an
/// unexpected name and nrnm::ShapeError for a shape (runtime/errors.h),
/// before anything is copied.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors);

}  // namespace nrnm
