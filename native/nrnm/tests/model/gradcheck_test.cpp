// Finite-difference gradient checks of NRNMClassifier in float64 on tiny
// models: for a few entries of every parameter, the backward gradient of the
// loss must match the central difference (L(w + e) - L(w - e)) / 2e. In
// training mode the generator's state is restored before every forward so
// that all evaluations use the same zoneout and dropout masks.

#include "nrnm/model/classifier.h"
#include "nrnm/model/random.h"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

struct GradCase {
  std::string name;
  nrnm::NRNMOptions options;
  int64_t batch;
  int64_t steps;
  bool training;
};

std::vector<GradCase> grad_cases() {
  using namespace nrnm;
  return {
      {"dilated_eval", NRNMOptions(3, 3).hidden_size(4).heads(2).layers(2).seed(11), 2, 21, false},
      {"dilated_training", NRNMOptions(3, 3).hidden_size(4).heads(2).layers(2).seed(12), 2, 21, true},
      {"strided_per_step_training",
       NRNMOptions(3, 4)
           .hidden_size(6)
           .heads(3)
           .layers(2)
           .block_length(4)
           .stride(2)
           .input_aggregation(InputAggregation::kStrided)
           .zoneout_mode(ZoneoutMode::kPerStep)
           .memory_dropout_mode(MemoryDropoutMode::kPerSample)
           .init(InitScheme::kStandard)
           .head(HeadKind::kLinear)
           .seed(13),
       3, 13, true},
  };
}

class NRNMGradCheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(NRNMGradCheck, CentralDifferencesMatchBackward) {
  const GradCase& config = GetParam();
  nrnm::NRNMClassifier model(config.options);
  model->to(torch::kDouble);
  model->train(config.training);

  torch::Generator data = nrnm::make_generator(99);
  torch::Tensor x =
      torch::randn({config.batch, config.steps, config.options.input_size()}, data, torch::dtype(torch::kDouble));
  torch::Tensor labels = torch::randint(config.options.classes(), {config.batch}, data, torch::dtype(torch::kLong));
  const torch::Tensor generator_state = model->generator.get_state();
  auto loss_fn = [&]() {
    model->generator.set_state(generator_state);  // same masks every time
    return torch::nn::functional::cross_entropy(model->forward(x), labels);
  };

  loss_fn().backward();

  const double eps = 1e-6;
  std::mt19937 pick(7);
  int checked = 0, nonzero = 0, failures = 0;
  double worst = 0;
  std::string worst_name;
  for (auto& item : model->named_parameters()) {
    torch::Tensor flat = item.value().view({-1});
    torch::Tensor grad = item.value().grad().defined() ? item.value().grad().view({-1}) : torch::zeros_like(flat);
    std::vector<int64_t> entries = {0, flat.numel() - 1};
    entries.push_back(std::uniform_int_distribution<int64_t>(0, flat.numel() - 1)(pick));
    for (int64_t entry : entries) {
      double numeric;
      {
        torch::NoGradGuard no_grad;
        const double saved = flat[entry].item<double>();
        flat[entry].fill_(saved + eps);
        const double plus = loss_fn().item<double>();
        flat[entry].fill_(saved - eps);
        const double minus = loss_fn().item<double>();
        flat[entry].fill_(saved);
        numeric = (plus - minus) / (2 * eps);
      }
      const double analytic = grad[entry].item<double>();
      const double error = std::abs(numeric - analytic);
      const double allowed = 1e-7 + 1e-5 * std::abs(numeric);
      ++checked;
      nonzero += std::abs(analytic) > 1e-9;
      if (error / allowed > worst) {
        worst = error / allowed;
        worst_name = item.key() + "[" + std::to_string(entry) + "]";
      }
      if (error > allowed) {
        ++failures;
        ADD_FAILURE() << item.key() << "[" << entry << "]: backward " << analytic << ", central difference " << numeric;
      }
    }
  }
  std::printf("[gradcheck] %-26s %d entries (%d nonzero), worst error/allowed %.3f at %s\n", config.name.c_str(),
              checked, nonzero, worst, worst_name.c_str());
  EXPECT_EQ(failures, 0);
  // The check means something only if most gradients are not zero.
  EXPECT_GT(nonzero, checked * 3 / 4);
}

INSTANTIATE_TEST_SUITE_P(Tiny, NRNMGradCheck, ::testing::ValuesIn(grad_cases()),
                         [](const ::testing::TestParamInfo<GradCase>& info) { return info.param.name; });

}  // namespace
