#include "nrnm/train/gradients.h"

#include "nrnm/model/lengths.h"
#include "nrnm/train/loss.h"

namespace nrnm {

namespace {

void clear_gradients(NRNMClassifier& model) {
  for (auto& p : model->parameters()) {
    p.mutable_grad() = torch::Tensor();
  }
}

}  // namespace

LossAndGradients loss_and_gradients(NRNMClassifier& model, const torch::Tensor& x, const torch::Tensor& y,
                                    const torch::Tensor& lengths_in) {
  const torch::Tensor lengths = checked_lengths(lengths_in, x.size(0), x.dim() > 1 ? x.size(1) : 0, "lossAndGradients");
  clear_gradients(model);
  const torch::Tensor logits = model->forward(x, lengths);  // on the model's device
  // Labels as int64, regression targets as float32, where the logits are.
  const torch::Tensor targets = y.to(logits.device(), y.is_floating_point() ? torch::kFloat : torch::kLong);
  const torch::Tensor loss = task_loss(logits, targets, lengths).loss;
  loss.backward();
  LossAndGradients out;
  out.loss = loss.item<double>();
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& grad = item.value().grad();
    out.gradients.emplace_back(item.key(), grad.defined() ? grad.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true)
                                                          : torch::zeros_like(item.value(), torch::kCPU));
  }
  clear_gradients(model);
  return out;
}

}  // namespace nrnm
