#pragma once

// The loss and the gradients of one batch without an optimizer step: what
// NRNMClassifier.lossAndGradients() returns to JavaScript (for checking
// gradients against PyTorch, or for custom optimizers).

#include "nrnm/model/classifier.h"

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace nrnm {

struct LossAndGradients {
  double loss = 0;  // the task's loss (loss.h), mean over its targets
  /// Every named parameter's gradient as a CPU copy, in named_parameters()
  /// order; zeros for parameters the batch did not reach.
  std::vector<std::pair<std::string, torch::Tensor>> gradients;
};

/// The loss (loss.h) of model(x, lengths) against the targets y (on any
/// device; lengths as for NRNMClassifier::forward). Leaves no gradient on
/// the model's parameters.
LossAndGradients loss_and_gradients(NRNMClassifier& model, const torch::Tensor& x, const torch::Tensor& y,
                                    const torch::Tensor& lengths = {});

}  // namespace nrnm
