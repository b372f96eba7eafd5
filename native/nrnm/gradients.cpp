#include "nrnm/gradients.h"

#include <torch/nn/functional/loss.h>

namespace nrnm {

namespace {

void clear_gradients(NRNMClassifier& model) {
  for (auto& p : model->parameters()) {
    p.mutable_grad() = torch::Tensor();
  }
}

} // namespace

LossAndGradients loss_and_gradients(
    NRNMClassifier& model,
    const torch::Tensor& x,
    const torch::Tensor& y) {
  clear_gradients(model);
  const torch::Tensor loss =
      torch::nn::functional::cross_entropy(model->forward(x), y);
  loss.backward();
  LossAndGradients out;
  out.loss = loss.item<double>();
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& grad = item.value().grad();
    out.gradients.emplace_back(
        item.key(),
        grad.defined() ? grad.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true)
                       : torch::zeros_like(item.value(), torch::kCPU));
  }
  clear_gradients(model);
  return out;
}

} // namespace nrnm
