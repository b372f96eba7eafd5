// Trainer::state / Trainer::restore: the optimizer and scheduler state a
// checkpoint stores (serialize/checkpoint.h), as plain tensors and numbers.

#include "nrnm/runtime/torch_compat.h"
#include "nrnm/train/trainer.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

#include <cmath>

namespace nrnm {

namespace {

template <typename ParamState>
TrainerState::Moments moments_of(const ParamState& s) {
  return {s.step(), s.exp_avg(), s.exp_avg_sq(), s.max_exp_avg_sq()};
}

template <typename ParamState>
std::unique_ptr<ParamState> param_state_of(const TrainerState::Moments& m, const torch::Tensor& param) {
  auto to_param = [&](const torch::Tensor& t) {
    return t.defined() ? t.to(param.device(), param.scalar_type()) : t;
  };
  auto state = std::make_unique<ParamState>();
  state->step(m.step);
  state->exp_avg(to_param(m.exp_avg));
  state->exp_avg_sq(to_param(m.exp_avg_sq));
  state->max_exp_avg_sq(to_param(m.max_exp_avg_sq));
  return state;
}

}  // namespace

TrainerState Trainer::state() const {
  TrainerState out;
  out.optimizer = options_.optimizer();
  out.step_count = step_count_;
  out.epoch_count = epoch_count_;
  out.lr = scheduled_lr_;
  out.plateau_best = plateau_.best;
  out.plateau_bad_epochs = plateau_.bad_epochs;
  const auto& states = optimizer_->state();
  for (const auto& p : params_) {
    const auto found = states.find(optimizer_state_key(p));
    TrainerState::Moments m;
    if (found != states.end()) {
      if (const auto* s = dynamic_cast<const torch::optim::AdamParamState*>(found->second.get())) {
        m = moments_of(*s);
      } else if (const auto* w = dynamic_cast<const torch::optim::AdamWParamState*>(found->second.get())) {
        m = moments_of(*w);
      }
    }
    out.moments.push_back(std::move(m));
  }
  return out;
}

void Trainer::restore(const TrainerState& state) {
  TORCH_CHECK(state.optimizer == options_.optimizer(), "the trainer state holds ", to_string(state.optimizer),
              " optimizer state but this trainer uses ", to_string(options_.optimizer()));
  TORCH_CHECK(state.moments.size() == params_.size(), "the trainer state covers ", state.moments.size(),
              " trainable parameters but the model has ", params_.size());
  TORCH_CHECK(state.step_count >= 0 && state.epoch_count >= 0, "the trainer state has negative step or epoch counts");
  TORCH_CHECK(std::isfinite(state.lr) && state.lr >= 0, "the trainer state has the learning rate ", state.lr);
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& m = state.moments[i];
    const auto& p = params_[i];
    TORCH_CHECK(m.step >= 0, "the trainer state has a negative Adam step");
    if (m.step == 0) {
      continue;
    }
    for (const auto* t : {&m.exp_avg, &m.exp_avg_sq}) {
      TORCH_CHECK(t->defined() && t->sizes() == p.sizes(), "the trainer state's Adam moments of parameter ", i,
                  " do not have its shape ", p.sizes());
    }
    TORCH_CHECK(!m.max_exp_avg_sq.defined() || m.max_exp_avg_sq.sizes() == p.sizes(),
                "the trainer state's Adam maximum of parameter ", i, " does not have its shape ", p.sizes());
  }

  auto& states = optimizer_->state();
  states.clear();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& m = state.moments[i];
    if (m.step == 0) {
      continue;
    }
    if (options_.optimizer() == OptimizerKind::kAdamW) {
      states[optimizer_state_key(params_[i])] = param_state_of<torch::optim::AdamWParamState>(m, params_[i]);
    } else {
      states[optimizer_state_key(params_[i])] = param_state_of<torch::optim::AdamParamState>(m, params_[i]);
    }
  }
  TORCH_CHECK(state.plateau_bad_epochs >= 0, "the trainer state has a negative plateau count");
  step_count_ = state.step_count;
  epoch_count_ = state.epoch_count;
  plateau_ = PlateauState{state.plateau_best, state.plateau_bad_epochs};
  set_lr(state.lr);
}

}  // namespace nrnm
