#include "nrnm/train/trainer.h"

#include "nrnm/runtime/errors.h"
#include "nrnm/model/lengths.h"
#include "nrnm/train/loss.h"
#include "nrnm/runtime/torch_compat.h"

#include <ATen/Context.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/version.h>

#include <cmath>
#include <sstream>
#include <string>
#include <tuple>

namespace nrnm {

namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void check_options(const TrainerOptions& o) {
  auto finite_nonneg = [](double v) {
    return std::isfinite(v) && v >= 0;
  };
  TORCH_CHECK(o.optimizer() == OptimizerKind::kAdam || o.optimizer() == OptimizerKind::kAdamW,
              "optimizer must be adam or adamw but got ", static_cast<int>(o.optimizer()));
  TORCH_CHECK(finite_nonneg(o.lr()), "lr must be a finite number >= 0 but got ", o.lr());
  TORCH_CHECK(finite_nonneg(o.weight_decay()), "weight_decay must be a finite number >= 0 but got ", o.weight_decay());
  TORCH_CHECK(o.beta1() >= 0 && o.beta1() < 1, "beta1 must be in [0, 1) but got ", o.beta1());
  TORCH_CHECK(o.beta2() >= 0 && o.beta2() < 1, "beta2 must be in [0, 1) but got ", o.beta2());
  TORCH_CHECK(std::isfinite(o.eps()) && o.eps() > 0, "eps must be a finite number > 0 but got ", o.eps());
  TORCH_CHECK(o.scheduler() == SchedulerKind::kNone || o.scheduler() == SchedulerKind::kStepLR ||
                  o.scheduler() == SchedulerKind::kCosine || o.scheduler() == SchedulerKind::kPlateau,
              "scheduler must be step, cosine, plateau or none but got ", static_cast<int>(o.scheduler()));
  if (o.scheduler() == SchedulerKind::kStepLR) {
    TORCH_CHECK(o.step_size() >= 1, "step_size must be an integer >= 1 but got ", o.step_size());
    TORCH_CHECK(std::isfinite(o.gamma()) && o.gamma() > 0, "gamma must be a finite number > 0 but got ", o.gamma());
  }
  if (o.scheduler() == SchedulerKind::kCosine) {
    TORCH_CHECK(o.t_max() >= 1, "t_max must be an integer >= 1 (the epochs of the cosine) but got ", o.t_max());
  }
  if (o.scheduler() == SchedulerKind::kPlateau) {
    TORCH_CHECK(o.gamma() > 0 && o.gamma() < 1, "gamma (the plateau's factor) must be in (0, 1) but got ", o.gamma());
    TORCH_CHECK(o.patience() >= 0, "patience must be an integer >= 0 but got ", o.patience());
  }
  TORCH_CHECK(finite_nonneg(o.min_lr()), "min_lr must be a finite number >= 0 but got ", o.min_lr());
  TORCH_CHECK(o.warmup_steps() >= 0, "warmup_steps must be an integer >= 0 but got ", o.warmup_steps());
  TORCH_CHECK(o.monitor() == Monitor::kLoss || o.monitor() == Monitor::kAccuracy, "monitor must be loss or accuracy");
  TORCH_CHECK(finite_nonneg(o.clip_norm()), "clip_norm must be a finite number >= 0 (0 = no clipping) but got ",
              o.clip_norm());
  TORCH_CHECK(
      o.precision() == Precision::kFP32 || o.precision() == Precision::kTF32 || o.precision() == Precision::kBF16,
      "precision must be fp32, tf32 or bf16 but got ", static_cast<int>(o.precision()));
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                        const TrainerOptions& o) {
  const auto betas = std::make_tuple(o.beta1(), o.beta2());
  if (o.optimizer() == OptimizerKind::kAdamW) {
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(o.lr()).betas(betas).eps(o.eps()).weight_decay(o.weight_decay()));
  }
  return std::make_unique<torch::optim::Adam>(
      params, torch::optim::AdamOptions(o.lr()).betas(betas).eps(o.eps()).weight_decay(o.weight_decay()));
}

// Puts a module in train or eval mode and restores its previous mode.
class ModeGuard {
 public:
  ModeGuard(torch::nn::Module& module, bool train) : module_(module), was_training_(module.is_training()) {
    module_.train(train);
  }
  ~ModeGuard() { module_.train(was_training_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

// x: (B, T, F) floating; y: (B) or (B, T) integer labels, or (B, T, C)
// floating targets (loss.h checks them against the outputs). Returns y as
// int64 for labels, else as it is.
torch::Tensor check_batch(const torch::Tensor& x, const torch::Tensor& y) {
  TORCH_CHECK(x.defined() && y.defined(), "x and y must both be given");
  TORCH_CHECK(x.dim() == 3, "expected x of shape (batch, time, features) but got ", shape_of(x));
  TORCH_CHECK(x.is_floating_point(), "expected x to be a floating-point tensor but got ", x.scalar_type());
  TORCH_CHECK(x.size(0) > 0, "the batch is empty (x has shape ", shape_of(x), ")");
  TORCH_CHECK(y.dim() >= 1 && y.size(0) == x.size(0), "expected y with one entry per sample of x ", shape_of(x),
              " (shape (", x.size(0), ") or (", x.size(0), ", ", x.size(1), ") labels, or (", x.size(0), ", ",
              x.size(1), ", outputs) values) but got ", shape_of(y));
  if (y.is_floating_point()) return y;
  TORCH_CHECK(y.scalar_type() == torch::kLong || y.scalar_type() == torch::kInt,
              "expected y to hold int64 or int32 class indices (or floating-point "
              "regression targets) but got ",
              y.scalar_type());
  return y.to(torch::kLong);
}

// Labels must index the C logits; checked before cross-entropy, which would
// otherwise read out of bounds (or fire a device-side assert on CUDA). The
// range is read before the forward (for labels on a GPU the one sync then
// finds an empty queue instead of waiting for the forward) and compared
// with the logits' width after it.
struct LabelRange {
  int64_t min = 0, max = 0;
};

LabelRange label_range(const torch::Tensor& y) {
  if (y.is_floating_point()) return {};  // regression targets: no range
  torch::Tensor lo, hi;
  std::tie(lo, hi) = at::aminmax(y);
  const torch::Tensor range = torch::stack({lo, hi}).cpu();  // one sync
  return {range[0].item<int64_t>(), range[1].item<int64_t>()};
}

void check_labels(const LabelRange& labels, const torch::Tensor& logits) {
  const int64_t classes = logits.size(logits.dim() - 1);
  const int64_t min = labels.min;
  const int64_t max = labels.max;
  TORCH_CHECK(min >= 0 && max < classes, "labels must be class indices in [0, ", classes, ") (the model has ", classes,
              " classes) but y holds values from ", min, " to ", max);
}

// Global L2 norm of the gradients (before clipping) as a 0-dim tensor on the
// device; clips them in place to max_norm when max_norm > 0, like
// torch.nn.utils.clip_grad_norm_. No host synchronisation.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm, torch::Device device) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) {
    if (p.grad().defined()) {
      grads.push_back(p.grad());
    }
  }
  if (grads.empty()) {
    return torch::zeros({}, torch::TensorOptions().device(device));
  }
  const torch::Tensor total = torch::stack(at::_foreach_norm(grads)).to(torch::kFloat).norm();
  if (max_norm > 0) {
    const torch::Tensor coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
    for (auto& g : grads) {
      g.mul_(coef.to(g.scalar_type()));
    }
  }
  return total;
}

const char* non_finite_name(double v) { return std::isnan(v) ? "NaN" : "infinite"; }

}  // namespace

Trainer::Trainer(torch::nn::AnyModule module, TrainerOptions options)
    : module_(std::move(module)), options_(std::move(options)) {
  TORCH_CHECK(!module_.is_empty(), "Trainer needs a model, got an empty one");
  check_options(options_);
  module_ptr_ = module_.ptr();
  for (const auto& p : module_ptr_->parameters()) {
    if (p.requires_grad()) {
      params_.push_back(p);
    }
  }
  TORCH_CHECK(!params_.empty(), "the model ", module_ptr_->name(), " has no trainable parameters");
  for (const auto& p : params_) {
    TORCH_CHECK(p.device() == params_.front().device(), "all parameters of the model must be on one device, found ",
                params_.front().device(), " and ", p.device());
  }
  if (options_.precision() != Precision::kFP32) {
    TORCH_CHECK(device().is_cuda(), "precision ", to_string(options_.precision()),
                " needs the model on a CUDA device but it is on ", device(), "; use fp32");
  }
  optimizer_ = make_optimizer(params_, options_);
  scheduled_lr_ = options_.lr();
  apply_lr();
}

Trainer::~Trainer() = default;

torch::Device Trainer::device() const { return params_.front().device(); }

StepResult Trainer::step(const torch::Tensor& x_in, const torch::Tensor& y_in, const torch::Tensor& lengths_in) {
  const torch::Tensor y_checked = check_batch(x_in, y_in);
  const torch::Tensor lengths = checked_lengths(lengths_in, x_in.size(0), x_in.size(1), "trainer.step");
  const torch::Tensor x = x_in.to(device(), params_.front().scalar_type());
  const torch::Tensor y = y_checked.to(device());
  const LabelRange labels = label_range(y_checked);
  const int64_t n = step_count_ + 1;  // the step being taken, counted from 1
  if (!module_ptr_->is_training()) {
    module_ptr_->train(true);
  }

  const torch::Tensor logits = forward_logits(x, lengths);  // (B, C) or (B, T, C) float32
  check_labels(labels, logits);
  const TaskLoss task = task_loss(logits, y, lengths);  // loss: () mean
  const torch::Tensor& loss = task.loss;
  zero_grad();
  loss.backward();
  average_gradients(task.targets);  // data-parallel: before clipping, so all ranks agree
  const torch::Tensor norm = clip_grad_norm(params_, options_.clip_norm(), device());  // () pre-clip

  // One host synchronisation for everything the step reports.
  const torch::Tensor host = torch::stack({loss.detach().to(torch::kDouble), norm.to(torch::kDouble),
                                           task.correct.to(torch::kDouble), task.targets.to(torch::kDouble)})
                                 .cpu();
  const double* v = host.data_ptr<double>();
  StepResult local{v[0], static_cast<int64_t>(v[2]), v[1], x.size(0)};
  local.targets = static_cast<int64_t>(v[3]);
  const StepResult result = reduce_over_ranks(local);
  if (!std::isfinite(result.loss) || !std::isfinite(result.grad_norm)) {
    zero_grad();  // drop the non-finite gradients; the weights are untouched
    const bool loss_bad = !std::isfinite(result.loss);
    throw NonFiniteError(c10::str(loss_bad ? "loss" : "gradient norm", " became ",
                                  non_finite_name(loss_bad ? result.loss : result.grad_norm), " at step ", n,
                                  "; the weights of step ", n - 1, n == 1 ? " (the initial weights)" : "",
                                  " are kept. Lower the learning rate or enable gradient clipping "
                                  "(clip)."));
  }
  optimizer_->step();
  step_count_ = n;
  apply_lr();  // the warm-up factor of the next step
  return result;
}

EvalResult Trainer::evaluate(const torch::Tensor& x_in, const torch::Tensor& y_in, const torch::Tensor& lengths_in) {
  const torch::Tensor y_checked = check_batch(x_in, y_in);
  const torch::Tensor lengths = checked_lengths(lengths_in, x_in.size(0), x_in.size(1), "trainer.evaluate");
  const torch::Tensor x = x_in.to(device(), params_.front().scalar_type());
  const torch::Tensor y = y_checked.to(device());
  const LabelRange labels = label_range(y_checked);
  torch::NoGradGuard no_grad;
  ModeGuard eval_mode(*module_ptr_, /*train=*/false);

  EvalResult result;
  result.logits = forward_logits(x, lengths);  // (B, C) or (B, T, C) float32
  check_labels(labels, result.logits);
  const TaskLoss task = task_loss(result.logits, y, lengths);
  const torch::Tensor host =
      torch::stack({task.loss_sum.to(torch::kDouble), task.correct.to(torch::kDouble), task.targets.to(torch::kDouble)})
          .cpu();
  result.loss_sum = host[0].item<double>();
  result.correct = static_cast<int64_t>(host[1].item<double>());
  result.targets = static_cast<int64_t>(host[2].item<double>());
  return result;
}

torch::Tensor Trainer::forward_logits(const torch::Tensor& x, const torch::Tensor& lengths) {
  apply_matmul_precision();
  torch::Tensor logits;
  {
    CudaAutocastGuard autocast(options_.precision() == Precision::kBF16);
    logits = lengths.defined() ? module_.forward(x, lengths) : module_.forward(x);
  }
  const bool per_sequence = logits.defined() && logits.dim() == 2;
  const bool per_step = logits.defined() && logits.dim() == 3 && logits.size(1) == x.size(1);
  TORCH_CHECK((per_sequence || per_step) && logits.size(0) == x.size(0) && logits.size(-1) > 0,
              "expected the model to return logits of shape (", x.size(0), ", classes) or (", x.size(0), ", ",
              x.size(1), ", outputs) for x of shape ", shape_of(x), " but got ",
              logits.defined() ? shape_of(logits) : std::string("nothing"));
  return logits.to(torch::kFloat);  // the loss is computed in float32
}

// TF32 switches are process-wide; set them on every call so that trainers of
// different precisions in one process each get their own.
void Trainer::apply_matmul_precision() const {
  if (!device().is_cuda()) {
    return;
  }
  const bool tf32 = options_.precision() == Precision::kTF32;
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

void Trainer::zero_grad() {
  for (auto& p : params_) {
    p.mutable_grad() = torch::Tensor();  // set_to_none, as PyTorch 2.x
  }
}

double Trainer::lr() const { return scheduled_lr_ * warmup_factor(step_count_, options_.warmup_steps()); }

void Trainer::apply_lr() {
  const double lr = this->lr();
  for (auto& group : optimizer_->param_groups()) {
    group.options().set_lr(lr);
  }
}

void Trainer::set_lr(double lr) {
  TORCH_CHECK(std::isfinite(lr) && lr >= 0, "lr must be a finite number >= 0 but got ", lr);
  scheduled_lr_ = lr;
  apply_lr();
}

// StepLR in its chainable form: after the epoch counter reaches a multiple
// of step_size the current lr is multiplied by gamma, i.e.
// lr = base_lr * gamma^floor(epochs / step_size). The cosine starts from the
// configured lr; the plateau decays the current one (lr_schedule.h).
void Trainer::end_epoch(std::optional<double> metric) {
  ++epoch_count_;
  switch (options_.scheduler()) {
    case SchedulerKind::kStepLR:
      if (epoch_count_ % options_.step_size() == 0) scheduled_lr_ *= options_.gamma();
      break;
    case SchedulerKind::kCosine:
      scheduled_lr_ = cosine_lr(options_.lr(), options_.min_lr(), epoch_count_, options_.t_max());
      break;
    case SchedulerKind::kPlateau:
      if (metric) {
        scheduled_lr_ = plateau_step(plateau_, *metric, options_.monitor() == Monitor::kAccuracy, scheduled_lr_,
                                     options_.gamma(), options_.patience(), options_.min_lr());
      }
      break;
    case SchedulerKind::kNone:
      break;
  }
  apply_lr();
}

}  // namespace nrnm
