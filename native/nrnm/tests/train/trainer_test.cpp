// Tests of nrnm::Trainer (optimizer, scheduler, clipping, failure handling,
// resume) and of the LSTM baseline. CPU only except the last test, which
// skips without CUDA. Runs in a few seconds.

#include "nrnm/serialize/checkpoint.h"
#include "nrnm/model/lstm_baseline.h"
#include "nrnm/train/trainer.h"
#include "tests/support/parameter_snapshot.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

using nrnm::OptimizerKind;
using nrnm::Precision;
using nrnm::SchedulerKind;
using nrnm::Trainer;
using nrnm::TrainerOptions;
using nrnm_test::same;
using nrnm_test::snapshot;

// The smallest sequence classifier: a Linear layer on the last time step.
// logits = x[:, T-1, :] W^T + b, so its gradients can be written by hand.
struct LastStepLinearImpl : torch::nn::Module {
  LastStepLinearImpl(int64_t features, int64_t classes)
      : linear(register_module("linear", torch::nn::Linear(features, classes))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return linear(x.select(1, x.size(1) - 1));  // (B, C)
  }
  torch::nn::Linear linear;
};
TORCH_MODULE(LastStepLinear);

// A broken model: returns (B, T, C) instead of (B, C).
struct EveryStepLinearImpl : torch::nn::Module {
  EveryStepLinearImpl() : linear(register_module("linear", torch::nn::Linear(3, 3))) {}
  torch::Tensor forward(const torch::Tensor& x) { return linear(x); }
  torch::nn::Linear linear;
};
TORCH_MODULE(EveryStepLinear);

// Options with no scheduler, decay or clipping unless a test asks for them.
TrainerOptions plain(double lr = 0.01) {
  return TrainerOptions().lr(lr).weight_decay(0).scheduler(SchedulerKind::kNone);
}

// The message of the c10::Error (or other std::exception) that f throws.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

// Expects `statement` to throw an error whose message contains `text`.
#define EXPECT_ERROR_HAS(statement, text)                                                                  \
  do {                                                                                                     \
    const std::string message_ = error_of([&] { statement; });                                             \
    EXPECT_NE(message_.find(text), std::string::npos) << "expected \"" << (text) << "\" in: " << message_; \
  } while (0)

// A fixed batch for the LastStepLinear tests: x (4, 2, 3), y (4), C = 3.
struct Batch {
  torch::Tensor x, y;
};
Batch tiny_batch(double scale = 1.0) {
  torch::manual_seed(7);
  return {torch::randn({4, 2, 3}) * scale, torch::tensor({0, 2, 1, 2})};
}

// Cross-entropy (mean) and its gradients for LastStepLinear, in float64.
struct HandGrad {
  double loss;
  torch::Tensor dw, db;
};
HandGrad hand_grad(const torch::Tensor& w, const torch::Tensor& b, const Batch& batch) {
  const auto x = batch.x.select(1, batch.x.size(1) - 1).to(torch::kDouble);
  const auto z = x.matmul(w.t()) + b;  // (B, C)
  const auto p = z.softmax(1);
  const auto onehot = torch::one_hot(batch.y, w.size(0)).to(torch::kDouble);  // (B, C)
  const double loss = -(onehot * p.log()).sum().item<double>() / batch.x.size(0);
  const auto dz = (p - onehot) / batch.x.size(0);
  return {loss, dz.t().matmul(x), dz.sum(0)};
}

// torch.optim.Adam / AdamW written out, in float64.
struct HandAdam {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;
  std::vector<torch::Tensor> m, v;
  int64_t t = 0;

  void step(std::vector<torch::Tensor>& params, std::vector<torch::Tensor> g) {
    ++t;
    for (size_t i = 0; i < params.size(); ++i) {
      if (m.size() <= i) {
        m.push_back(torch::zeros_like(params[i]));
        v.push_back(torch::zeros_like(params[i]));
      }
      if (decoupled) {
        params[i] = params[i] * (1 - lr * weight_decay);
      } else {
        g[i] = g[i] + weight_decay * params[i];
      }
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const auto m_hat = m[i] / (1 - std::pow(beta1, t));
      const auto v_hat = v[i] / (1 - std::pow(beta2, t));
      params[i] = params[i] - lr * m_hat / (v_hat.sqrt() + eps);
    }
  }
};

// Runs `steps` trainer steps and the same steps by hand; returns the largest
// difference between the two parameter sets.
double trainer_vs_hand(OptimizerKind kind, double weight_decay, int steps,
                       std::vector<torch::Tensor>* trained = nullptr) {
  torch::manual_seed(1);
  LastStepLinear model(3, 3);
  const Batch batch = tiny_batch();
  std::vector<torch::Tensor> hand = {model->linear->weight.detach().to(torch::kDouble),
                                     model->linear->bias.detach().to(torch::kDouble)};
  HandAdam adam;
  adam.lr = 0.01;
  adam.weight_decay = weight_decay;
  adam.decoupled = kind == OptimizerKind::kAdamW;
  Trainer trainer(model, plain(0.01).optimizer(kind).weight_decay(weight_decay));
  for (int s = 0; s < steps; ++s) {
    const HandGrad g = hand_grad(hand[0], hand[1], batch);
    const nrnm::StepResult r = trainer.step(batch.x, batch.y);
    EXPECT_NEAR(r.loss, g.loss, 1e-6) << "loss at step " << s + 1;
    const double norm = std::sqrt(g.dw.pow(2).sum().item<double>() + g.db.pow(2).sum().item<double>());
    EXPECT_NEAR(r.grad_norm, norm, 1e-6) << "grad_norm at step " << s + 1;
    adam.step(hand, {g.dw, g.db});
  }
  if (trained) {
    *trained = snapshot(*model);
  }
  const auto w = model->linear->weight.to(torch::kDouble);
  const auto b = model->linear->bias.to(torch::kDouble);
  return std::max((w - hand[0]).abs().max().item<double>(), (b - hand[1]).abs().max().item<double>());
}

TEST(Trainer, AdamMatchesHandComputedSteps) {
  // Three steps: the first tests the update, the later ones the moments and
  // bias corrections.
  EXPECT_LT(trainer_vs_hand(OptimizerKind::kAdam, 0.0, 3), 1e-6);
}

TEST(Trainer, WeightDecayIsCoupledForAdamAndDecoupledForAdamW) {
  std::vector<torch::Tensor> adam, adamw;
  EXPECT_LT(trainer_vs_hand(OptimizerKind::kAdam, 0.5, 3, &adam), 1e-6);
  EXPECT_LT(trainer_vs_hand(OptimizerKind::kAdamW, 0.5, 3, &adamw), 1e-6);
  // The two rules give clearly different weights.
  EXPECT_GT((adam[0] - adamw[0]).abs().max().item<double>(), 1e-3);
}

TEST(Trainer, DefaultsAreTheOfficialOnes) {
  const TrainerOptions o;
  EXPECT_EQ(o.optimizer(), OptimizerKind::kAdam);
  EXPECT_EQ(o.lr(), 1e-3);
  EXPECT_EQ(o.weight_decay(), 1e-4);
  EXPECT_EQ(o.beta1(), 0.9);
  EXPECT_EQ(o.beta2(), 0.999);
  EXPECT_EQ(o.eps(), 1e-8);
  EXPECT_EQ(o.scheduler(), SchedulerKind::kStepLR);
  EXPECT_EQ(o.step_size(), 600);
  EXPECT_EQ(o.gamma(), 0.1);
  EXPECT_EQ(o.clip_norm(), 0.0);
  EXPECT_EQ(o.precision(), Precision::kFP32);
}

TEST(Trainer, StepLRDecaysEveryStepSizeEpochs) {
  torch::manual_seed(1);
  LastStepLinear model(3, 3);
  Trainer trainer(model, plain(0.1).scheduler(SchedulerKind::kStepLR).step_size(2).gamma(0.5));
  EXPECT_DOUBLE_EQ(trainer.lr(), 0.1);
  trainer.end_epoch();
  EXPECT_DOUBLE_EQ(trainer.lr(), 0.1);
  trainer.end_epoch();
  EXPECT_DOUBLE_EQ(trainer.lr(), 0.05);
  EXPECT_EQ(trainer.epoch_count(), 2);

  // The optimizer uses the decayed rate: Adam's first update is about lr.
  const auto before = snapshot(*model);
  const Batch batch = tiny_batch();
  trainer.step(batch.x, batch.y);
  const double moved = (model->linear->weight - before[0]).abs().max().item<double>();
  EXPECT_NEAR(moved, 0.05, 1e-3);

  trainer.end_epoch();
  EXPECT_DOUBLE_EQ(trainer.lr(), 0.05);
  trainer.end_epoch();
  EXPECT_DOUBLE_EQ(trainer.lr(), 0.025);

  // set_lr replaces the rate; later decays multiply it.
  trainer.set_lr(1.0);
  trainer.end_epoch();
  trainer.end_epoch();
  EXPECT_DOUBLE_EQ(trainer.lr(), 0.5);

  Trainer constant(model, plain(0.1));
  for (int e = 0; e < 5; ++e) {
    constant.end_epoch();
  }
  EXPECT_DOUBLE_EQ(constant.lr(), 0.1);
}

double grad_norm_of(const torch::nn::Module& m) {
  double sq = 0;
  for (const auto& p : m.parameters()) {
    sq += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  }
  return std::sqrt(sq);
}

TEST(Trainer, ClippingCapsTheGlobalGradientNorm) {
  const Batch batch = tiny_batch(/*scale=*/100.0);
  torch::manual_seed(1);
  LastStepLinear clipped(3, 3);
  torch::manual_seed(1);
  LastStepLinear unclipped(3, 3);
  Trainer with_clip(clipped, plain().clip_norm(0.5));
  Trainer without_clip(unclipped, plain());

  const auto a = with_clip.step(batch.x, batch.y);
  const auto b = without_clip.step(batch.x, batch.y);
  // grad_norm reports the norm before clipping: the same for both.
  EXPECT_GT(a.grad_norm, 5.0);
  EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-6 * b.grad_norm);
  // The gradients the optimizer used were scaled down to norm 0.5.
  EXPECT_NEAR(grad_norm_of(*clipped), 0.5, 1e-5);
  EXPECT_NEAR(grad_norm_of(*unclipped), b.grad_norm, 1e-5 * b.grad_norm);
}

TEST(Trainer, NonFiniteLossThrowsAndKeepsTheWeights) {
  torch::manual_seed(1);
  LastStepLinear model(3, 3);
  torch::manual_seed(1);
  LastStepLinear twin(3, 3);
  Trainer trainer(model, plain());
  Trainer reference(twin, plain());
  const Batch batch = tiny_batch();
  trainer.step(batch.x, batch.y);
  reference.step(batch.x, batch.y);

  const auto before = snapshot(*model);
  auto bad_x = batch.x.clone();
  bad_x[0][1][0].fill_(std::nan(""));
  EXPECT_ERROR_HAS(trainer.step(bad_x, batch.y),
                   "loss became NaN at step 2; the weights of step 1 are kept. Lower the "
                   "learning rate or enable gradient clipping (clip).");
  EXPECT_TRUE(same(before, *model)) << "a NaN step changed the weights";
  EXPECT_EQ(trainer.step_count(), 1);

  // Training goes on as if the bad step never happened (Adam state intact).
  trainer.step(batch.x, batch.y);
  reference.step(batch.x, batch.y);
  EXPECT_TRUE(same(snapshot(*twin), *model));
  EXPECT_EQ(trainer.step_count(), 2);

  bad_x[0][1][0].fill_(std::numeric_limits<float>::infinity());
  Trainer fresh(LastStepLinear(3, 3), plain());
  EXPECT_ERROR_HAS(fresh.step(bad_x, batch.y), "at step 1; the weights of step 0");
}

TEST(Trainer, BadLabelsAndShapesThrowClearly) {
  torch::manual_seed(1);
  LastStepLinear model(3, 3);
  Trainer trainer(model, plain());
  const auto before = snapshot(*model);
  const Batch batch = tiny_batch();

  EXPECT_ERROR_HAS(trainer.step(batch.x, torch::tensor({0, 1, 5, 2})),
                   "labels must be class indices in [0, 3) (the model has 3 classes) but "
                   "y holds values from 0 to 5");
  EXPECT_ERROR_HAS(trainer.step(batch.x, torch::tensor({0, -1, 1, 2})), "values from -1 to 2");
  EXPECT_ERROR_HAS(trainer.evaluate(batch.x, torch::tensor({0, 1, 3, 2})), "in [0, 3)");
  EXPECT_ERROR_HAS(trainer.step(batch.x, torch::tensor({0, 1, 2})),
                   "expected y with one entry per sample of x [4, 2, 3] (shape (4) or (4, 2) "
                   "labels, or (4, 2, outputs) values) but got [3]");
  EXPECT_ERROR_HAS(trainer.step(batch.x, torch::tensor({0., 1., 2., 1.})),
                   "expected labels of shape (4) holding int64 or int32 class indices for "
                   "logits of shape [4, 3] (one label per sequence) but got [4] Float");
  EXPECT_ERROR_HAS(trainer.step(batch.x.select(1, 0), batch.y),
                   "expected x of shape (batch, time, features) but got [4, 3]");
  EXPECT_ERROR_HAS(trainer.step(batch.x.to(torch::kLong), batch.y), "expected x to be a floating-point tensor");
  EXPECT_TRUE(same(before, *model));
  EXPECT_EQ(trainer.step_count(), 0);

  // int32 labels are accepted.
  trainer.step(batch.x, batch.y.to(torch::kInt));
  EXPECT_EQ(trainer.step_count(), 1);

  // Per-step outputs (B, T, C) need per-step targets (loss.h).
  Trainer per_step(EveryStepLinear{}, plain());
  EXPECT_ERROR_HAS(per_step.step(batch.x, batch.y),
                   "expected labels of shape (4, 2) (one class per step) for per-step "
                   "logits of shape [4, 2, 3] but got [4]");
}

TEST(Trainer, OptionsAreValidated) {
  LastStepLinear model(3, 3);
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().lr(-1)), "lr must be a finite number >= 0 but got -1");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().weight_decay(NAN)), "weight_decay");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().beta1(1.0)), "beta1 must be in [0, 1) but got 1");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().beta2(-0.1)), "beta2 must be in [0, 1)");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().eps(0)), "eps must be");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().step_size(0)), "step_size must be an integer >= 1 but got 0");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().gamma(0)), "gamma must be");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().clip_norm(-1)),
                   "clip_norm must be a finite number >= 0 (0 = no clipping) but got -1");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().precision(Precision::kBF16)),
                   "precision bf16 needs the model on a CUDA device but it is on cpu");
  EXPECT_ERROR_HAS(Trainer(model, TrainerOptions().precision(Precision::kTF32)),
                   "precision tf32 needs the model on a CUDA device");
  // step_size and gamma only matter with StepLR.
  Trainer(model, plain().step_size(0).gamma(0));
  Trainer trainer(model, plain());
  EXPECT_ERROR_HAS(trainer.set_lr(-0.5), "lr must be a finite number >= 0");
}

// Fixed batches for the LSTM tests: x (8, 5, 3), y (8) in [0, 3).
std::vector<Batch> lstm_batches(int count) {
  torch::manual_seed(3);
  std::vector<Batch> out;
  for (int i = 0; i < count; ++i) {
    out.push_back({torch::randn({8, 5, 3}), torch::randint(0, 3, {8})});
  }
  return out;
}

nrnm::LSTMClassifier small_lstm(uint64_t seed) {
  torch::manual_seed(seed);
  return nrnm::LSTMClassifier(nrnm::LSTMClassifierOptions(3, 3).hidden_size(8).layers(2));
}

void resume_is_identical(OptimizerKind kind) {
  const int steps = 6;
  const auto batches = lstm_batches(steps);
  const TrainerOptions options = TrainerOptions()
                                     .optimizer(kind)
                                     .lr(0.02)
                                     .weight_decay(1e-3)
                                     .scheduler(SchedulerKind::kStepLR)
                                     .step_size(2)
                                     .gamma(0.5)
                                     .clip_norm(0.5);
  auto run = [&](Trainer& t, int from, int to, std::vector<double>& losses) {
    for (int s = from; s < to; ++s) {
      losses.push_back(t.step(batches[s].x, batches[s].y).loss);
      t.end_epoch();  // one-step epochs: the lr halves after steps 2, 4, 6
    }
  };

  std::vector<double> straight;
  auto model = small_lstm(11);
  Trainer trainer(model, options);
  run(trainer, 0, steps, straight);

  std::vector<double> resumed;
  std::string file;  // the checkpoint format that ships (checkpoint.h)
  {
    auto first = small_lstm(11);
    Trainer first_trainer(first, options);
    run(first_trainer, 0, 3, resumed);  // saved between two decays, lr 0.01
    file = nrnm::save_checkpoint({first.ptr().get(), nullptr, &first_trainer}, {});
  }
  auto second = small_lstm(99);  // different initial weights, then loaded
  Trainer second_trainer(second, options);
  nrnm::load_checkpoint(file, "resume.nrnm", {second.ptr().get(), nullptr, &second_trainer});
  EXPECT_EQ(second_trainer.step_count(), 3);
  EXPECT_EQ(second_trainer.epoch_count(), 3);
  EXPECT_EQ(second_trainer.lr(), 0.01);
  run(second_trainer, 3, steps, resumed);

  ASSERT_EQ(straight.size(), resumed.size());
  for (size_t i = 0; i < straight.size(); ++i) {
    EXPECT_EQ(straight[i], resumed[i]) << "loss of step " << i + 1;
  }
  EXPECT_EQ(trainer.lr(), second_trainer.lr());
  EXPECT_DOUBLE_EQ(second_trainer.lr(), 0.0025);
  EXPECT_EQ(second_trainer.step_count(), steps);
  EXPECT_TRUE(same(snapshot(*model), *second));
}

TEST(Trainer, ResumeGivesIdenticalLossesAdam) { resume_is_identical(OptimizerKind::kAdam); }

TEST(Trainer, ResumeGivesIdenticalLossesAdamW) { resume_is_identical(OptimizerKind::kAdamW); }

TEST(Trainer, LoadRefusesAMismatchedState) {
  auto model = small_lstm(1);
  Trainer adam(model, plain());
  const auto batch = lstm_batches(1)[0];
  adam.step(batch.x, batch.y);
  const nrnm::TrainerState state = adam.state();

  Trainer adamw(model, plain().optimizer(OptimizerKind::kAdamW));
  EXPECT_ERROR_HAS(adamw.restore(state),
                   "the trainer state holds adam optimizer state but this trainer uses "
                   "adamw");
  Trainer other(LastStepLinear(3, 3), plain());
  EXPECT_ERROR_HAS(other.restore(state), "the trainer state covers 10 trainable parameters but the model has 2");
  nrnm::TrainerState wrong_shape = state;
  wrong_shape.moments[0].exp_avg = torch::zeros({1});
  Trainer fresh(model, plain());
  EXPECT_ERROR_HAS(fresh.restore(wrong_shape), "Adam moments of parameter 0 do not have its shape");
  EXPECT_EQ(fresh.step_count(), 0) << "a refused state changed the trainer";
}

// Label = the feature that stands out at the FIRST step; the other steps are
// noise, so the LSTM must carry it through the sequence.
Batch first_step_task(int64_t samples) {
  const auto y = torch::randint(0, 3, {samples});
  auto x = torch::randn({samples, 6, 3});
  x.select(1, 0).add_(3.0 * torch::one_hot(y, 3).to(torch::kFloat));
  return {x, y};
}

TEST(LSTMBaseline, LearnsATinyTaskWithTheTrainer) {
  torch::manual_seed(5);
  nrnm::LSTMClassifier model(nrnm::LSTMClassifierOptions(3, 3).hidden_size(16).layers(1));
  std::ostringstream printed;
  model->pretty_print(printed);
  EXPECT_EQ(printed.str(), "LSTMClassifier(3, 16, layers=1, classes=3)");
  Trainer trainer(model, plain(0.02));
  for (int s = 0; s < 150; ++s) {
    const Batch b = first_step_task(32);
    trainer.step(b.x, b.y);
  }
  const Batch test = first_step_task(512);
  model->train();  // evaluate restores the mode it found
  const nrnm::EvalResult r = trainer.evaluate(test.x, test.y);
  EXPECT_TRUE(model->is_training());
  const double accuracy = static_cast<double>(r.correct) / 512;
  EXPECT_GT(accuracy, 0.9) << "LSTM baseline failed to learn the task";
  EXPECT_EQ(r.logits.sizes(), (std::vector<int64_t>{512, 3}));
  EXPECT_FALSE(r.logits.requires_grad());
  // loss_sum is the SUM over the batch of the per-sample cross-entropy.
  const double mean = at::cross_entropy_loss(r.logits, test.y).item<double>();
  EXPECT_NEAR(r.loss_sum, 512 * mean, 1e-3 * 512 * mean);
  EXPECT_EQ(r.correct, r.logits.argmax(1).eq(test.y).sum().item<int64_t>());

  model->eval();
  trainer.evaluate(test.x, test.y);
  EXPECT_FALSE(model->is_training());
  trainer.step(test.x.slice(0, 0, 8), test.y.slice(0, 0, 8));
  EXPECT_TRUE(model->is_training()) << "step() must train in training mode";
}

TEST(LSTMBaseline, ChecksItsInput) {
  nrnm::LSTMClassifier model(nrnm::LSTMClassifierOptions(3, 4).hidden_size(8));
  EXPECT_EQ(model->forward(torch::zeros({2, 5, 3})).sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_ERROR_HAS(model->forward(torch::zeros({2, 5, 7})),
                   "LSTMClassifier expects x of shape (batch, time, 3) but got [2, 5, 7]");
}

TEST(TrainerCuda, TF32AndBF16StepsAndResumeOnTheGpu) {
  if (!torch::cuda::is_available()) {
    GTEST_SKIP() << "no CUDA device: the tf32/bf16 paths are not exercised";
  }
  const auto batches = lstm_batches(4);
  for (const Precision precision : {Precision::kTF32, Precision::kBF16}) {
    auto model = small_lstm(2);
    model->to(torch::kCUDA);
    Trainer trainer(model, plain().precision(precision).clip_norm(1.0));
    for (const auto& b : batches) {
      const auto r = trainer.step(b.x, b.y);  // CPU batches are moved over
      EXPECT_TRUE(std::isfinite(r.loss)) << nrnm::to_string(precision);
      EXPECT_TRUE(std::isfinite(r.grad_norm)) << nrnm::to_string(precision);
    }
    const auto e = trainer.evaluate(batches[0].x, batches[0].y);
    EXPECT_EQ(e.logits.scalar_type(), torch::kFloat);
    EXPECT_TRUE(e.logits.is_cuda());

    // State saved from the GPU (a checkpoint holds CPU tensors), loaded
    // back to the GPU.
    const std::string file = nrnm::save_checkpoint({model.ptr().get(), nullptr, &trainer}, {});
    Trainer again(model, plain().precision(precision).clip_norm(1.0));
    nrnm::load_checkpoint(file, "gpu.nrnm", {model.ptr().get(), nullptr, &again});
    const auto r = again.step(batches[0].x, batches[0].y);
    EXPECT_TRUE(std::isfinite(r.loss));
  }
}

}  // namespace
