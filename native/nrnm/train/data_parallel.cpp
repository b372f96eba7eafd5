// The data-parallel part of Trainer: joining a group, averaging gradients
// and reducing step metrics over the ranks. On one process (no group) every
// function here is a no-op, so single-process training is unchanged.

#include "nrnm/distributed/group.h"
#include "nrnm/train/trainer.h"

#include <torch/nn/module.h>
#include <torch/types.h>

namespace nrnm {

void Trainer::join(std::shared_ptr<DistributedGroup> group, at::Generator *generator) {
  TORCH_CHECK(group, "Trainer::join needs a group");
  TORCH_CHECK(!group_, "the trainer already trains with a group");
  std::vector<torch::Tensor> state = module_ptr_->parameters();
  int64_t parameters = 0;
  for (const auto &p : state) parameters += p.numel();
  for (const auto &b : module_ptr_->buffers()) state.push_back(b);
  // Models of other sizes would make the broadcast fail inside Gloo (an
  // abort, not an error): the ranks compare them through the store first.
  group->agree({{"parameter count", std::to_string(parameters)}, {"tensor count", std::to_string(state.size())}},
               "model");
  group->broadcast_(state, "the broadcast of rank 0's parameters");
  if (generator != nullptr) seed_for_rank(*generator, group->options().rank());
  group_ = std::move(group);
}

void Trainer::average_gradients(const torch::Tensor &targets) {
  if (!group_) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(params_.size() + 1);
  for (auto &p : params_) {
    // Every rank must reduce the same tensors: a parameter this rank's
    // batch did not reach takes part with a zero gradient.
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  // Each rank's loss is the mean over its own targets, and the counts can
  // differ (a short last batch, per-step tasks whose sequences have other
  // lengths): each gradient is weighted by its rank's count, and the mean
  // of the weighted gradients divided by the mean count, so the result is
  // the gradient of the mean over all ranks' targets, as one process on the
  // combined batch. The count travels in the gradients' own bucket (same
  // dtype and device): no extra collective.
  const torch::Tensor count = targets.detach().to(params_.front().options()).reshape({}).clone();
  for (auto &g : grads) g.mul_(count);
  grads.push_back(count);
  group_->average_(grads, "the allreduce of the gradients");
  grads.pop_back();
  for (auto &g : grads) g.div_(count);
}

StepResult Trainer::reduce_over_ranks(StepResult local) {
  if (!group_) return local;
  // Mean loss over all ranks' targets (sequences or valid steps); a
  // non-finite loss on any rank makes it non-finite on all, so every rank
  // stops with the same error.
  const std::vector<double> sums =
      group_->sum({local.loss * static_cast<double>(local.targets), static_cast<double>(local.correct),
                   static_cast<double>(local.samples), static_cast<double>(local.targets)},
                  "the allreduce of the step's loss and accuracy");
  StepResult global = local;  // grad_norm: of the averaged, identical gradients
  global.loss = sums[0] / sums[3];
  global.correct = static_cast<int64_t>(sums[1]);
  global.samples = static_cast<int64_t>(sums[2]);
  global.targets = static_cast<int64_t>(sums[3]);
  global.allreduce_ms = group_->take_allreduce_ms();
  return global;
}

void Trainer::agree_over_ranks(const Facts &facts, const std::string &what) {
  if (!group_) return;
  group_->agree(facts, what + "/" + std::to_string(agreements_++));
}

std::vector<double> Trainer::sum_over_ranks(const std::vector<double> &values) {
  if (!group_) return values;
  return group_->sum(values, "the allreduce of the metrics");
}

}  // namespace nrnm
