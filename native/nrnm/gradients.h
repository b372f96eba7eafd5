#pragma once

// The loss and the gradients of one batch without an optimizer step: what
// NRNMClassifier.lossAndGradients() returns to JavaScript (for checking
// gradients against PyTorch, or for custom optimizers).

#include "nrnm/classifier.h"

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace nrnm {

struct LossAndGradients {
  double loss = 0; // cross-entropy, mean over the batch
  /// Every named parameter's gradient as a CPU copy, in named_parameters()
  /// order; zeros for parameters the batch did not reach.
  std::vector<std::pair<std::string, torch::Tensor>> gradients;
};

/// Cross-entropy of model(x) against the int64 labels y (on the model's
/// device). Leaves no gradient on the model's parameters.
LossAndGradients loss_and_gradients(
    NRNMClassifier& model,
    const torch::Tensor& x,
    const torch::Tensor& y);

} // namespace nrnm
