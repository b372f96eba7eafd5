// The learning-rate schedules against PyTorch: each expected value below is
// what torch 1.13's schedulers give an Adam optimizer with lr 0.01
// (CosineAnnealingLR(T_max=5, eta_min=0.001) for 7 epochs,
// ReduceLROnPlateau(mode, factor=0.5, patience=1, min_lr=0.002) on the
// metric series shown, LinearLR(start_factor=1/4, total_iters=3) per step),
// printed by the script in the comment at the end. Then the same schedules
// through nrnm::Trainer, a checkpoint in the middle.

#include "nrnm/serialize/checkpoint.h"
#include "nrnm/train/lr_schedule.h"
#include "nrnm/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>

#include <vector>

namespace {

using nrnm::Monitor;
using nrnm::SchedulerKind;
using nrnm::Trainer;
using nrnm::TrainerOptions;

// Relative agreement: PyTorch's chainable forms round differently from the closed forms.
void expect_near_all(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12 * want[i]) << "at " << i;
}

const std::vector<double> kCosine{
    0.009140576474687266,  0.006890576474687264, 0.004109423525312737, 0.0018594235253127371, 0.001,
    0.0018594235253127367, 0.004109423525312739};
const std::vector<double> kPlateauMetricsMax{0.5, 0.6, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7};
const std::vector<double> kPlateauMax{0.01,  0.01,   0.01,   0.005, 0.005, 0.005,
                                      0.005, 0.0025, 0.0025, 0.002, 0.002, 0.002};
const std::vector<double> kPlateauMetricsMin{1.0, 0.9, 0.95, 0.9, 0.8999, 0.5, 0.6, 0.6, 0.6};
const std::vector<double> kPlateauMin{0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005, 0.0025, 0.0025};
const std::vector<double> kWarmup{
    0.0025, 0.005, 0.0075, 0.009999999999999998, 0.009999999999999998, 0.009999999999999998};

TEST(LRSchedule, CosineMatchesCosineAnnealingLR) {
  std::vector<double> got;
  for (int64_t e = 1; e <= 7; ++e) got.push_back(nrnm::cosine_lr(0.01, 0.001, e, 5));
  expect_near_all(got, kCosine);
}

TEST(LRSchedule, PlateauMatchesReduceLROnPlateau) {
  for (const bool maximize : {true, false}) {
    const auto& metrics = maximize ? kPlateauMetricsMax : kPlateauMetricsMin;
    nrnm::PlateauState state;
    double lr = 0.01;
    std::vector<double> got;
    for (const double m : metrics) got.push_back(lr = nrnm::plateau_step(state, m, maximize, lr, 0.5, 1, 0.002));
    expect_near_all(got, maximize ? kPlateauMax : kPlateauMin);
  }
}

TEST(LRSchedule, WarmupMatchesLinearLR) {
  std::vector<double> got;
  for (int64_t s = 0; s < 6; ++s) got.push_back(0.01 * nrnm::warmup_factor(s, 4));
  expect_near_all(got, kWarmup);
  EXPECT_EQ(nrnm::warmup_factor(0, 0), 1.0);
}

struct LinearOnLastImpl : torch::nn::Module {
  LinearOnLastImpl() : linear(register_module("linear", torch::nn::Linear(3, 2))) {}
  torch::Tensor forward(const torch::Tensor& x) { return linear(x.select(1, x.size(1) - 1)); }
  torch::nn::Linear linear;
};
TORCH_MODULE(LinearOnLast);

TEST(LRSchedule, TrainerFollowsTheSchedulesAndResumesThem) {
  torch::manual_seed(3);
  const torch::Tensor x = torch::randn({4, 2, 3});
  const torch::Tensor y = torch::tensor({0, 1, 1, 0});
  {
    // Warm-up over 4 steps, then the cosine per epoch (2 steps an epoch).
    LinearOnLast model;
    Trainer t(model, TrainerOptions()
                         .lr(0.01)
                         .weight_decay(0)
                         .scheduler(SchedulerKind::kCosine)
                         .t_max(5)
                         .min_lr(0.001)
                         .warmup_steps(4));
    std::vector<double> got;
    for (int epoch = 0; epoch < 3; ++epoch) {
      for (int s = 0; s < 2; ++s) {
        got.push_back(t.lr());
        t.step(x, y);
      }
      t.end_epoch();
    }
    expect_near_all(got, {0.0025, 0.005, 0.75 * kCosine[0], kCosine[0], kCosine[1], kCosine[1]});
  }
  // The plateau through end_epoch(metric), saved and restored mid-way.
  LinearOnLast model;
  const auto options = TrainerOptions()
                           .lr(0.01)
                           .weight_decay(0)
                           .scheduler(SchedulerKind::kPlateau)
                           .gamma(0.5)
                           .patience(1)
                           .min_lr(0.002)
                           .monitor(Monitor::kAccuracy);
  Trainer t(model, options);
  std::vector<double> got;
  t.end_epoch();  // an epoch without evaluation changes nothing
  EXPECT_EQ(t.lr(), 0.01);
  for (size_t i = 0; i < 5; ++i) {
    t.end_epoch(kPlateauMetricsMax[i]);
    got.push_back(t.lr());
  }
  Trainer resumed(model, options);
  resumed.restore(t.state());
  for (size_t i = 5; i < kPlateauMetricsMax.size(); ++i) {
    resumed.end_epoch(kPlateauMetricsMax[i]);
    got.push_back(resumed.lr());
  }
  expect_near_all(got, kPlateauMax);
}

TEST(LRSchedule, OptionsAreChecked) {
  LinearOnLast model;
  EXPECT_THROW(Trainer(model, TrainerOptions().scheduler(SchedulerKind::kCosine)), c10::Error);  // t_max 0
  EXPECT_THROW(Trainer(model, TrainerOptions().scheduler(SchedulerKind::kPlateau).gamma(1.5)), c10::Error);
  EXPECT_THROW(Trainer(model, TrainerOptions().warmup_steps(-1)), c10::Error);
  EXPECT_THROW(Trainer(model, TrainerOptions().min_lr(-1)), c10::Error);
}

}  // namespace

// The reference values (python3 with torch 1.13):
//   import torch
//   def opt(): return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
//   o = opt(); s = torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001)
//   for e in range(7): o.step(); s.step(); print(o.param_groups[0]['lr'])
//   o = opt(); s = torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode='max', factor=0.5, patience=1, min_lr=0.002)
//   for m in [0.5, 0.6, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]: o.step(); s.step(m);
//   print(o.param_groups[0]['lr']) (mode='min' on [1.0, 0.9, 0.95, 0.9, 0.8999, 0.5, 0.6, 0.6, 0.6]) o = opt(); s =
//   torch.optim.lr_scheduler.LinearLR(o, start_factor=1/4, end_factor=1.0, total_iters=3) for i in range(6):
//   print(o.param_groups[0]['lr']); o.step(); s.step()
