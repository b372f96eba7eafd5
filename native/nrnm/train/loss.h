#pragma once

// The training loss of every task, in one place (trainer, evaluation and
// lossAndGradients all use it). Which loss follows from what the model
// returns and what the targets are:
//
//   logits (B, C)    + y (B) integer       -> cross-entropy per sequence
//                                             (classify-sequence)
//   logits (B, T, C) + y (B, T) integer    -> cross-entropy at every valid
//                                             step (classify-steps)
//   logits (B, T, C) + y (B, T, C) float   -> squared error at every valid
//                                             step (regress-steps)
//
// "Valid" steps are t < lengths[b] (lengths.h); without lengths all steps.
// Means are over the valid steps (and, for the squared error, the C outputs),
// so a padded batch gives exactly the loss of its sequences: padding never
// enters a loss or a gradient.

#include <torch/types.h>

namespace nrnm {

struct TaskLoss {
  torch::Tensor loss;      // (): the mean over the targets (what backward() takes)
  torch::Tensor loss_sum;  // (): the sum over the targets, for evaluation totals
  torch::Tensor correct;   // (): targets whose argmax is the label (0 for regression)
  torch::Tensor targets;   // (): targets scored: sequences, or valid steps
};

/// Checks the targets' shape and dtype against the logits (c10::Error naming
/// both shapes) and computes the loss in float32 (float64 logits stay float64).
/// `lengths` (B) int64 on the CPU from checked_lengths(), or undefined.
TaskLoss task_loss(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& lengths);

/// Whether y holds class indices (integer) rather than regression targets.
bool is_class_target(const torch::Tensor& y);

}  // namespace nrnm
