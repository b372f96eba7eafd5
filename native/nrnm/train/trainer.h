#pragma once

// Trainer: one optimisation step of a sequence classifier, its evaluation and
// the state a checkpoint needs to resume training exactly.
//
// Generic over the model: anything with `Tensor forward(const Tensor& x)`
// mapping x (B, T, F) float to logits (B, C) or per-step outputs (B, T, C),
// held in a torch::nn::AnyModule (NRNMClassifier, LSTMClassifier, a test
// module, ...). Batches with `lengths` call `forward(x, lengths)` instead.
// The loss follows from the outputs and the targets (loss.h).
//
// Defaults reproduce the authors' script (F-Frida/NRNM codes/
// action_mylstm_cv.py): torch.optim.Adam(lr=1e-3, weight_decay=1e-4),
// StepLR(step_size=600, gamma=0.1) stepped once per epoch, no clipping,
// float32, cross-entropy averaged over the batch.

#include "nrnm/distributed/agreement.h"
#include "nrnm/runtime/enum_names.h"
#include "nrnm/train/lr_schedule.h"

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nrnm {

class DistributedGroup;

enum class OptimizerKind {
  kAdam,   // torch.optim.Adam: weight decay is L2 added to the gradient (coupled)
  kAdamW,  // torch.optim.AdamW: weight decay shrinks the weights (decoupled)
};

enum class SchedulerKind {
  kNone,     // constant learning rate (set_lr still works)
  kStepLR,   // lr *= gamma every step_size epochs (end_epoch() calls)
  kCosine,   // CosineAnnealingLR(T_max = t_max epochs, eta_min = min_lr)
  kPlateau,  // ReduceLROnPlateau(factor = gamma, patience, min_lr) on the monitored metric
};

/// The evaluation metric that ReduceLROnPlateau follows (and, in the
/// TypeScript fit loop, best.nrnm and early stopping): lower loss or higher
/// accuracy is better.
enum class Monitor {
  kLoss,
  kAccuracy,
};

enum class Precision {
  kFP32,  // float32 everywhere; on CUDA also turns TF32 off for cuBLAS and cuDNN
  kTF32,  // CUDA only: float32 storage, TF32 tensor-core matmuls and cuDNN
  kBF16,  // CUDA only: forward under bfloat16 autocast; loss and optimizer fp32
};

template <>
struct EnumNames<OptimizerKind> {
  static constexpr const char* option = "optimizer";
  static constexpr std::array<std::pair<OptimizerKind, const char*>, 2> table{
      {{OptimizerKind::kAdam, "adam"}, {OptimizerKind::kAdamW, "adamw"}}};
};
template <>
struct EnumNames<SchedulerKind> {
  static constexpr const char* option = "scheduler";
  static constexpr std::array<std::pair<SchedulerKind, const char*>, 4> table{{{SchedulerKind::kStepLR, "step"},
                                                                               {SchedulerKind::kCosine, "cosine"},
                                                                               {SchedulerKind::kPlateau, "plateau"},
                                                                               {SchedulerKind::kNone, "none"}}};
};
template <>
struct EnumNames<Monitor> {
  static constexpr const char* option = "monitor";
  static constexpr std::array<std::pair<Monitor, const char*>, 2> table{
      {{Monitor::kLoss, "loss"}, {Monitor::kAccuracy, "accuracy"}}};
};
template <>
struct EnumNames<Precision> {
  static constexpr const char* option = "precision";
  static constexpr std::array<std::pair<Precision, const char*>, 3> table{
      {{Precision::kFP32, "fp32"}, {Precision::kTF32, "tf32"}, {Precision::kBF16, "bf16"}}};
};

struct TrainerOptions {
  /// Adam with coupled L2 weight decay, as the official script.
  TORCH_ARG(OptimizerKind, optimizer) = OptimizerKind::kAdam;
  /// Official learning rate (--lr 0.001).
  TORCH_ARG(double, lr) = 1e-3;
  /// Official weight decay (--wd 0.0001), coupled for kAdam.
  TORCH_ARG(double, weight_decay) = 1e-4;
  /// PyTorch's Adam defaults, which the official script keeps.
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-8;
  /// Official: StepLR(optimizer, step_size=600, gamma=0.1), once per epoch.
  TORCH_ARG(SchedulerKind, scheduler) = SchedulerKind::kStepLR;
  /// Epochs between two learning-rate decays (kStepLR only).
  TORCH_ARG(int64_t, step_size) = 600;
  /// Factor applied to the learning rate at each decay (kStepLR; kPlateau's factor).
  TORCH_ARG(double, gamma) = 0.1;
  /// kCosine: epochs of the half cosine (PyTorch's T_max); >= 1 with kCosine.
  TORCH_ARG(int64_t, t_max) = 0;
  /// kCosine: the final learning rate (eta_min); kPlateau: the lowest one (min_lr).
  TORCH_ARG(double, min_lr) = 0.0;
  /// kPlateau: evaluations without improvement before a decay (PyTorch's default 10).
  TORCH_ARG(int64_t, patience) = 10;
  /// What kPlateau follows (lower loss or higher accuracy is better).
  TORCH_ARG(Monitor, monitor) = Monitor::kAccuracy;
  /// Linear warm-up over the first warmup_steps optimizer steps, multiplying
  /// any schedule (lr_schedule.h); 0 = none.
  TORCH_ARG(int64_t, warmup_steps) = 0;
  /// Maximum global L2 norm of the gradients; 0 turns clipping off
  /// (official --clip 0.0).
  TORCH_ARG(double, clip_norm) = 0.0;
  /// float32, as the official script.
  TORCH_ARG(Precision, precision) = Precision::kFP32;
};

struct StepResult {
  double loss = 0;       // the task's loss (loss.h), mean over its targets (before the update)
  int64_t correct = 0;   // targets whose argmax logit equals the label
  double grad_norm = 0;  // global L2 norm of all gradients, before clipping
  // Data-parallel: loss and correct cover the batches of all ranks.
  int64_t samples = 0;      // sequences in the batch (of all ranks together)
  double allreduce_ms = 0;  // time spent averaging the gradients over ranks
  int64_t targets = 0;      // what loss and correct cover: sequences or valid steps
};

struct EvalResult {
  double loss_sum = 0;   // the loss SUMMED over the targets: add the batches
                         // up, divide by the number of targets for the mean
  int64_t correct = 0;   // targets whose argmax logit equals the label
  int64_t targets = 0;   // sequences, or valid steps for per-step tasks
  torch::Tensor logits;  // (B, C) or (B, T, C) float32, on the model's device, no grad
};

/// A trainer's resumable state (Trainer::state / Trainer::restore).
struct TrainerState {
  /// Adam or AdamW moments of one trainable parameter; a parameter the
  /// optimizer has not updated yet has step 0 and undefined tensors.
  struct Moments {
    int64_t step = 0;
    torch::Tensor exp_avg;
    torch::Tensor exp_avg_sq;
    torch::Tensor max_exp_avg_sq;  // undefined unless amsgrad
  };
  OptimizerKind optimizer = OptimizerKind::kAdam;
  int64_t step_count = 0;
  int64_t epoch_count = 0;
  /// The scheduled learning rate, before the warm-up factor.
  double lr = 0;
  /// ReduceLROnPlateau's best metric (NaN: none yet) and evaluations since it.
  double plateau_best = std::numeric_limits<double>::quiet_NaN();
  int64_t plateau_bad_epochs = 0;
  /// One entry per trainable parameter, in the model's parameters() order.
  std::vector<Moments> moments;
};

/// Trains one model. Construct it after the model has been moved to its
/// device (the optimizer state lives there). Not thread-safe: the caller
/// serialises calls on one trainer (and its model).
class Trainer {
 public:
  explicit Trainer(torch::nn::AnyModule module, TrainerOptions options = {});

  /// Convenience for TORCH_MODULE holders: Trainer(model, options).
  template <typename ModuleType>
  explicit Trainer(const torch::nn::ModuleHolder<ModuleType>& module, TrainerOptions options = {})
      : Trainer(torch::nn::AnyModule(module), std::move(options)) {}

  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// One optimisation step on x (B, T, F) floating and targets y: (B) integer
  /// labels in [0, C), (B, T) per-step labels or (B, T, C) per-step values
  /// (loss.h); `lengths` (B), when given, the valid steps of each sequence
  /// (lengths.h). Inputs on another device are copied to the model's. Puts
  /// the model in training mode. A non-finite loss or gradient throws
  /// nrnm::NonFiniteError (runtime/errors.h)
  /// before the optimizer step, so the weights stay those of the last step.
  StepResult step(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& lengths = {});

  /// Loss, correct count and logits in eval mode without autograd; the
  /// model's previous train/eval mode is restored afterwards.
  EvalResult evaluate(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& lengths = {});

  /// Learning rate of the next step (the scheduled one times the warm-up factor).
  double lr() const;
  /// Sets the scheduled learning rate now; a later StepLR or plateau decay
  /// multiplies this value (a cosine schedule recomputes it at the epoch's end).
  void set_lr(double lr);
  /// Marks the end of an epoch: steps the scheduler (StepLR decays the
  /// learning rate once every step_size epochs, the cosine follows the
  /// epoch count, the plateau takes `metric`, the epoch's evaluation of
  /// options().monitor(), and leaves the rate alone without one).
  void end_epoch(std::optional<double> metric = std::nullopt);

  /// Optimizer steps taken (failed steps not counted).
  int64_t step_count() const { return step_count_; }
  /// end_epoch() calls so far.
  int64_t epoch_count() const { return epoch_count_; }
  const TrainerOptions& options() const { return options_; }

  /// What resuming needs besides the model's parameters: optimizer state
  /// (Adam moments and step counts), scheduler state (epoch count), learning
  /// rate and step count (trainer_state.cpp; serialize/checkpoint.h stores it).
  TrainerState state() const;
  /// Restores state() into a trainer built with the same optimizer kind on a
  /// model with the same trainable parameters; moves the moments to the
  /// model's device. Checks everything first and changes nothing when the
  /// state does not fit (c10::Error).
  void restore(const TrainerState& state);

  /// Trains data-parallel with the other ranks of `group` from now on:
  /// overwrites the model's parameters and buffers with rank 0's, then each
  /// step averages the gradients over the ranks before clipping and the
  /// optimizer step, and reports loss and accuracy over all ranks' batches.
  /// `generator`, when given (the model's: NRNMClassifier::generator), is
  /// re-seeded for this rank so that each rank draws its own dropout and
  /// zoneout masks (seed_for_rank; rank 0 keeps its stream). Every rank
  /// must call step() the same number of times (data_parallel.cpp).
  void join(std::shared_ptr<DistributedGroup> group, at::Generator* generator = nullptr);
  /// The group joined, or null (one process).
  const std::shared_ptr<DistributedGroup>& group() const { return group_; }
  /// Sums each value over the ranks (the values themselves on one process).
  std::vector<double> sum_over_ranks(const std::vector<double>& values);
  /// Checks through the group's store, before the collectives they decide,
  /// that every rank gives the same facts (a fit's epochs, batch size and
  /// steps per epoch: otherwise the ranks would run different collectives);
  /// throws on every rank naming the differences. No-op on one process.
  void agree_over_ranks(const Facts& facts, const std::string& what);

 private:
  void average_gradients(const torch::Tensor& targets);
  StepResult reduce_over_ranks(StepResult local);
  torch::Device device() const;
  torch::Tensor forward_logits(const torch::Tensor& x, const torch::Tensor& lengths);
  void zero_grad();
  void apply_matmul_precision() const;

  torch::nn::AnyModule module_;
  std::shared_ptr<torch::nn::Module> module_ptr_;
  TrainerOptions options_;
  std::vector<torch::Tensor> params_;  // the trainable parameters
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  void apply_lr();

  int64_t step_count_ = 0;
  int64_t epoch_count_ = 0;
  double scheduled_lr_ = 0;  // before the warm-up factor
  PlateauState plateau_;
  std::shared_ptr<DistributedGroup> group_;  // null on one process
  int64_t agreements_ = 0;                   // agree_over_ranks calls: each its own keys
};

}  // namespace nrnm
