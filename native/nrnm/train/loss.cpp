#include "nrnm/train/loss.h"

#include <ATen/Functions.h>
#include <c10/util/Exception.h>

namespace nrnm {

bool is_class_target(const torch::Tensor& y) {
  return y.scalar_type() == torch::kLong || y.scalar_type() == torch::kInt;
}

TaskLoss task_loss(const torch::Tensor& logits_in, const torch::Tensor& y_in, const torch::Tensor& lengths) {
  const torch::Tensor logits = logits_in.scalar_type() == torch::kDouble ? logits_in : logits_in.to(torch::kFloat);
  const int64_t B = logits.size(0);
  TaskLoss out;
  if (logits.dim() == 2) {
    TORCH_CHECK(is_class_target(y_in) && y_in.dim() == 1 && y_in.size(0) == B, "expected labels of shape (", B,
                ") holding int64 or int32 class indices for logits of shape ", logits.sizes(),
                " (one label per sequence) but got ", y_in.sizes(), " ", y_in.scalar_type());
    const torch::Tensor y = y_in.to(logits.device(), torch::kLong);
    // The mean as PyTorch's cross_entropy computes it (bit for bit what the
    // trainer always took); the sum for evaluation totals.
    out.loss = at::cross_entropy_loss(logits, y);
    out.loss_sum = at::cross_entropy_loss(logits.detach(), y, {}, at::Reduction::Sum);
    out.correct = logits.detach().argmax(1).eq(y).sum();
    out.targets = torch::full({}, static_cast<double>(B), logits.options());
    return out;
  }
  TORCH_CHECK(logits.dim() == 3, "expected logits of shape (batch, classes) or (batch, time, outputs) but got ",
              logits.sizes());
  const int64_t T = logits.size(1);
  const int64_t C = logits.size(2);
  // valid: (B, T) bool, the steps that count
  torch::Tensor valid = torch::ones({B, T}, torch::dtype(torch::kBool));
  if (lengths.defined()) valid = torch::arange(T, torch::kLong).unsqueeze(0).lt(lengths.unsqueeze(1));
  valid = valid.to(logits.device());
  const torch::Tensor rows = logits.reshape({B * T, C}).index({valid.reshape({B * T})});  // (N, C)
  if (is_class_target(y_in)) {
    TORCH_CHECK(y_in.dim() == 2 && y_in.size(0) == B && y_in.size(1) == T, "expected labels of shape (", B, ", ", T,
                ") (one class per step) for per-step logits of shape ", logits.sizes(), " but got ", y_in.sizes());
    const torch::Tensor y = y_in.to(logits.device(), torch::kLong).reshape({B * T}).index({valid.reshape({B * T})});
    out.loss_sum = at::cross_entropy_loss(rows, y, {}, at::Reduction::Sum);
    out.correct = rows.detach().argmax(1).eq(y).sum();
  } else {
    TORCH_CHECK(
        y_in.is_floating_point() && y_in.dim() == 3 && y_in.size(0) == B && y_in.size(1) == T && y_in.size(2) == C,
        "expected floating-point targets of shape (", B, ", ", T, ", ", C, ") for per-step outputs of shape ",
        logits.sizes(), " but got ", y_in.sizes(), " ", y_in.scalar_type());
    const torch::Tensor y =
        y_in.to(logits.device(), logits.scalar_type()).reshape({B * T, C}).index({valid.reshape({B * T})});
    // The squared error averaged over the C outputs of a step, summed over
    // the steps: loss = loss_sum / steps is the mean squared error.
    out.loss_sum = (rows - y).pow(2).sum() / static_cast<double>(C);
    out.correct = torch::zeros({}, torch::dtype(torch::kLong).device(logits.device()));
  }
  out.targets = valid.sum().to(logits.scalar_type());
  out.loss = out.loss_sum / out.targets;
  return out;
}

}  // namespace nrnm
