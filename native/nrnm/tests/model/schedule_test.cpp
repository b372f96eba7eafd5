// The memory schedule: which steps update the memory, which outputs become
// hidden tokens, which inputs are aggregated; observed through NRNMTrace on
// real forward calls, for the official dilated aggregation and for strided
// ones with other k and s.

#include "nrnm/model/classifier.h"
#include "nrnm/model/random.h"
#include "nrnm/model/schedule.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using nrnm::InputAggregation;
using nrnm::NRNMOptions;
using nrnm::Schedule;
using Steps = std::vector<int64_t>;

TEST(Schedule, OfficialDilated) {
  const Schedule s{10, 5, InputAggregation::kDilated};
  EXPECT_EQ(s.slots(), 2);
  EXPECT_EQ(s.update_steps(45), (Steps{10, 20, 30, 40}));
  EXPECT_EQ(s.update_steps(10), Steps{});
  EXPECT_EQ(s.update_steps(11), Steps{10});
  EXPECT_FALSE(s.updates_at(0));
  EXPECT_FALSE(s.updates_at(5));
  EXPECT_TRUE(s.updates_at(20));
  EXPECT_EQ(s.hidden_token_steps(10), (Steps{5, 0}));
  EXPECT_EQ(s.hidden_token_steps(20), (Steps{15, 10}));
  // Traced from the authors' three input lists (every 1, 3 and 5 steps).
  EXPECT_EQ(s.input_steps(10), (Steps{5, 6, 7, 8, 9, 0, 3, 10}));
  EXPECT_EQ(s.input_steps(20), (Steps{15, 16, 17, 18, 19, 12, 15, 20}));
  EXPECT_EQ(s.input_steps(30), (Steps{25, 26, 27, 28, 29, 24, 27, 30}));
  EXPECT_EQ(s.input_steps(40), (Steps{35, 36, 37, 38, 39, 30, 33, 40}));
  EXPECT_EQ(s.input_steps(60), (Steps{55, 56, 57, 58, 59, 54, 57, 60}));
  EXPECT_EQ(s.inputs_per_update(), 8);
}

TEST(Schedule, Strided) {
  const Schedule a{6, 2, InputAggregation::kStrided};
  EXPECT_EQ(a.update_steps(19), (Steps{6, 12, 18}));
  EXPECT_EQ(a.hidden_token_steps(12), (Steps{10, 8, 6}));
  EXPECT_EQ(a.input_steps(12), (Steps{10, 8, 6}));
  EXPECT_EQ(a.inputs_per_update(), 3);
  const Schedule b{4, 4, InputAggregation::kStrided};
  EXPECT_EQ(b.update_steps(9), (Steps{4, 8}));
  EXPECT_EQ(b.hidden_token_steps(8), Steps{4});
}

struct TraceCase {
  std::string name;
  NRNMOptions options;
  int64_t steps;
  bool training;
};

std::vector<TraceCase> trace_cases() {
  const auto strided = [](int64_t k, int64_t s) {
    return NRNMOptions(5, 3).hidden_size(6).heads(2).layers(2).block_length(k).stride(s).input_aggregation(
        InputAggregation::kStrided);
  };
  return {
      {"dilated_eval", NRNMOptions(5, 3).hidden_size(8).layers(2), 43, false},
      {"dilated_training", NRNMOptions(5, 3).hidden_size(8).layers(2), 43, true},
      {"dilated_short", NRNMOptions(5, 3).hidden_size(8).layers(2), 9, false},
      {"strided_k6_s2_eval", strided(6, 2), 19, false},
      {"strided_k6_s2_training", strided(6, 2), 19, true},
      {"strided_k4_s4_training", strided(4, 4), 9, true},
  };
}

// One traced forward call of a configuration.
struct Traced {
  explicit Traced(const TraceCase& config_) : config(config_), model(config.options) {
    model->train(config.training);
    torch::Generator data = nrnm::make_generator(3);
    x = torch::randn({2, config.steps, config.options.input_size()}, data);
    model->forward_traced(x, trace);
  }
  TraceCase config;
  nrnm::NRNMClassifier model;
  torch::Tensor x;  // (B, T, F)
  nrnm::NRNMTrace trace;
};

// Runs `check` on a traced forward of every configuration (only the eval
// ones when eval_only), naming the configuration in failures. One test per
// property rather than per configuration keeps the process count low.
template <typename Check>
void for_each_config(bool eval_only, Check check) {
  for (const auto& config : trace_cases()) {
    if (eval_only && config.training) continue;
    SCOPED_TRACE(config.name);
    Traced traced(config);
    check(traced);
  }
}

TEST(NRNMScheduleTrace, UpdatesExactlyAtMultiplesOfK) {
  for_each_config(false, [](Traced& traced) {
    const NRNMOptions& options = traced.config.options;
    ASSERT_EQ(traced.trace.layers.size(), size_t(options.layers()));
    Steps expected;
    for (int64_t t = options.block_length(); t < traced.config.steps; t += options.block_length()) {
      expected.push_back(t);
    }
    for (const auto& layer : traced.trace.layers) {
      Steps steps;
      for (const auto& update : layer.updates) steps.push_back(update.step);
      EXPECT_EQ(steps, expected);
    }
  });
}

TEST(NRNMScheduleTrace, HiddenTokensAreTheLayersOwnOutputs) {
  for_each_config(false, [](Traced& traced) {
    const int64_t k = traced.config.options.block_length();
    const int64_t s = traced.config.options.stride();
    for (const auto& layer : traced.trace.layers) {
      for (const auto& update : layer.updates) {
        Steps expected;  // h_{t-s}, ..., h_{t-ns}
        for (int64_t j = 1; j <= k / s; ++j) expected.push_back(update.step - j * s);
        ASSERT_EQ(update.hidden_token_steps, expected) << "t=" << update.step;
        for (size_t slot = 0; slot < expected.size(); ++slot) {
          EXPECT_TRUE(torch::equal(update.hidden_tokens.select(1, int64_t(slot)), layer.outputs[expected[slot]]))
              << "t=" << update.step << " slot " << slot;
        }
      }
    }
  });
}

TEST(NRNMScheduleTrace, MemoryStartsAtZeroAndIsCarriedBetweenUpdates) {
  for_each_config(false, [](Traced& traced) {
    for (const auto& layer : traced.trace.layers) {
      for (size_t u = 0; u < layer.updates.size(); ++u) {
        const auto& update = layer.updates[u];
        if (u == 0) {
          EXPECT_EQ(update.memory_before.abs().max().item<float>(), 0.0f);
        } else {
          EXPECT_TRUE(torch::equal(update.memory_before, layer.updates[u - 1].memory_carried));
        }
        if (!traced.config.training) {
          EXPECT_TRUE(torch::equal(update.memory_carried, update.memory_after));
        }
        EXPECT_GT(update.memory_after.abs().max().item<float>(), 0.0f);
      }
    }
  });
}

// Recomputes every update of every layer from the input steps it reports
// (the layer input is x for layer 0, the previous layer's outputs above).
TEST(NRNMScheduleTrace, MemoryUpdateUsesTheRecordedInputSteps) {
  for_each_config(true, [](Traced& traced) {
    torch::NoGradGuard no_grad;
    const Schedule schedule = Schedule::from(traced.config.options);
    torch::Tensor input = traced.x.transpose(0, 1);  // (T, B, F)
    for (size_t l = 0; l < traced.trace.layers.size(); ++l) {
      const auto& layer = traced.trace.layers[l];
      auto& cell = traced.model->rnn->cells[l];
      for (const auto& update : layer.updates) {
        ASSERT_EQ(update.input_steps, schedule.input_steps(update.step));
        std::vector<torch::Tensor> parts;
        for (int64_t j : update.input_steps) parts.push_back(input[j]);
        torch::Tensor a = cell->aggregate(torch::cat(parts, 1).unsqueeze(0)).squeeze(0);
        torch::Tensor memory = cell->MC->forward(a, update.memory_before, update.hidden_tokens);
        EXPECT_TRUE(torch::allclose(memory, update.memory_after, 1e-5, 1e-6)) << "layer " << l << " t=" << update.step;
      }
      input = layer.outputs;
    }
  });
}

// Outputs before the first update must not depend on any memory weight;
// from step k on they must.
TEST(NRNMScheduleTrace, MemoryUntouchedBeforeStepK) {
  for_each_config(true, [](Traced& traced) {
    const int64_t k = traced.config.options.block_length();
    {
      torch::NoGradGuard no_grad;
      for (auto& cell : traced.model->rnn->cells) {
        for (auto& p : cell->MC->parameters()) p.add_(0.3);
        cell->weight_memt.add_(0.3);
        cell->weight_memh.add_(0.3);
        cell->weight_memi.add_(0.3);
        cell->mem_bias.add_(0.3);
        if (cell->aggregation) cell->aggregation->linear->weight.add_(0.3);
      }
    }
    nrnm::NRNMTrace perturbed;
    traced.model->forward_traced(traced.x, perturbed);
    for (size_t l = 0; l < traced.trace.layers.size(); ++l) {
      const torch::Tensor before = traced.trace.layers[l].outputs;  // (T, B, H)
      const torch::Tensor after = perturbed.layers[l].outputs;
      const int64_t T = before.size(0);
      const int64_t early = std::min(k, T);
      EXPECT_TRUE(torch::equal(before.narrow(0, 0, early), after.narrow(0, 0, early)))
          << "layer " << l << ": outputs before step k changed";
      if (T > k) {
        EXPECT_FALSE(torch::allclose(before.narrow(0, k, T - k), after.narrow(0, k, T - k)))
            << "layer " << l << ": memory had no effect from step k on";
      }
    }
  });
}

}  // namespace
