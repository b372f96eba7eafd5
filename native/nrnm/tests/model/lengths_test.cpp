// Variable-length batches (lengths.h): every sample of a padded batch gives
// the outputs and gradients of the same sample run alone without padding, in
// the fused and the reference recurrence; padding never reaches a gradient.

#include "nrnm/model/classifier.h"
#include "nrnm/model/lengths.h"
#include "nrnm/train/loss.h"
#include "nrnm/model/random.h"
#include "nrnm/model/lstm_segment.h"
#include "nrnm/train/trainer.h"

#include <gtest/gtest.h>
#include <torch/autograd.h>

#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace nrnm;

constexpr double kTolerance = 1e-6;  // float32, exact schedule

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

struct SampleRun {
  torch::Tensor logits;              // (C)
  std::vector<torch::Tensor> grads;  // parameters..., then x
};

// Logits of sample `b` and the gradients of its cross-entropy.
SampleRun run_sample(NRNMClassifier& model, const torch::Tensor& logits, const torch::Tensor& x, int64_t b,
                     int64_t label) {
  const torch::Tensor loss = at::cross_entropy_loss(logits[b].unsqueeze(0), torch::tensor({label}));
  std::vector<torch::Tensor> inputs = model->parameters();
  inputs.push_back(x);
  SampleRun run;
  run.logits = logits[b].detach();
  // Short sequences never reach the memory: its parameters get no gradient.
  run.grads = torch::autograd::grad({loss}, inputs, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!run.grads[i].defined()) run.grads[i] = torch::zeros_like(inputs[i]);
  }
  return run;
}

// fused recurrence, inputAggregation, training mode (zoneout and dropout 0)
class PaddingEquivalence : public ::testing::TestWithParam<std::tuple<bool, InputAggregation, bool>> {
 protected:
  void TearDown() override { set_fused_recurrence(true); }
};

TEST_P(PaddingEquivalence, EverySampleEqualsItselfAloneWithoutPadding) {
  const auto [fused, aggregation, training] = GetParam();
  set_fused_recurrence(fused);
  NRNMOptions options = NRNMOptions(5, 3).hidden_size(8).layers(2).seed(3).input_aggregation(aggregation);
  if (training) options.zoneout(0).memory_dropout(0).aggregation_dropout(0);
  NRNMClassifier model(options);
  model->train(training);  // eval: zeta = 1 - zoneout = 0.8 at every valid step
  const std::vector<int64_t> lengths = {23, 7, 10, 11, 1, 20, 21};
  const int64_t B = static_cast<int64_t>(lengths.size());
  const int64_t T = 23;
  torch::Generator data = make_generator(42);
  torch::Tensor x = torch::randn({B, T, 5}, data);
  // Padding that would change everything if it were read.
  for (int64_t b = 0; b < B; ++b) {
    if (lengths[b] < T) x[b].narrow(0, lengths[b], T - lengths[b]).fill_(1e3);
  }
  x.requires_grad_(true);
  const torch::Tensor logits = model->forward(x, torch::tensor(lengths));  // (B, C)
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{B, 3}));
  double worst = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t label = b % 3;
    const SampleRun padded = run_sample(model, logits, x, b, label);
    const torch::Tensor alone_x = x.detach()[b].narrow(0, 0, lengths[b]).unsqueeze(0).clone().requires_grad_(true);
    const SampleRun alone = run_sample(model, model->forward(alone_x), alone_x, 0, label);
    worst = std::max(worst, max_diff(padded.logits, alone.logits));
    EXPECT_LT(max_diff(padded.logits, alone.logits), kTolerance) << "sample " << b;
    const size_t P = alone.grads.size() - 1;
    auto names = model->named_parameters().keys();
    for (size_t p = 0; p < P; ++p) {
      const double diff = max_diff(padded.grads[p], alone.grads[p]);
      worst = std::max(worst, diff);
      EXPECT_LT(diff, kTolerance) << "sample " << b << ", gradient of " << names[p];
    }
    const torch::Tensor dx = padded.grads[P][b];  // (T, F)
    const double dx_diff = max_diff(dx.narrow(0, 0, lengths[b]), alone.grads[P][0]);
    worst = std::max(worst, dx_diff);
    EXPECT_LT(dx_diff, kTolerance) << "sample " << b << ", gradient of x";
    if (lengths[b] < T) {
      EXPECT_TRUE(dx.narrow(0, lengths[b], T - lengths[b]).eq(0).all().item<bool>())
          << "sample " << b << ": padding got a gradient";
    }
    // Gradients of the other samples do not depend on sample b.
    for (int64_t other = 0; other < B; ++other) {
      if (other != b) EXPECT_TRUE(padded.grads[P][other].eq(0).all().item<bool>());
    }
  }
  std::cout << "[ padding ] " << (fused ? "fused" : "reference") << ", " << to_string(aggregation) << ", "
            << (training ? "training" : "eval") << ": largest difference " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Recurrences, PaddingEquivalence,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(InputAggregation::kDilated, InputAggregation::kStrided),
                                            ::testing::Bool()));

TEST(Lengths, FullLengthsTakeExactlyThePathWithoutLengths) {
  NRNMClassifier model(NRNMOptions(5, 3).hidden_size(8).layers(2).seed(4));
  model->eval();
  torch::Generator data = make_generator(1);
  const torch::Tensor x = torch::randn({3, 17, 5}, data);
  EXPECT_TRUE(torch::equal(model->forward(x), model->forward(x, torch::full({3}, 17, torch::kLong))));
  EXPECT_TRUE(torch::equal(model->forward(x), model->forward(x, torch::full({3}, 17, torch::kInt))));
}

TEST(Lengths, MemoryOfAFinishedSequenceIsKept) {
  NRNMClassifier model(NRNMOptions(5, 3).hidden_size(8).layers(1).seed(4));
  model->eval();
  torch::Generator data = make_generator(1);
  NRNMTrace trace;
  model->forward_traced(torch::randn({2, 31, 5}, data), trace, torch::tensor({31, 12}));
  const auto& updates = trace.layers[0].updates;  // at t = 10, 20, 30
  ASSERT_EQ(updates.size(), 3u);
  // Sample 1 (12 steps) updates at t = 10 only; later its memory stays.
  EXPECT_FALSE(torch::equal(updates[0].memory_carried[1], updates[0].memory_before[1]));
  for (size_t u = 1; u < updates.size(); ++u) {
    EXPECT_TRUE(torch::equal(updates[u].memory_carried[1], updates[u].memory_before[1]));
    EXPECT_FALSE(torch::equal(updates[u].memory_carried[0], updates[u].memory_before[0]));
  }
  // And its outputs past the end repeat its last valid h.
  const torch::Tensor outputs = trace.layers[0].outputs;  // (T, B, H)
  for (int64_t t = 12; t < 31; ++t) EXPECT_TRUE(torch::equal(outputs[t][1], outputs[11][1]));
}

TEST(Lengths, BadLengthsAreRejectedWithTheirValues) {
  NRNMClassifier model(NRNMOptions(5, 3).hidden_size(8).layers(1));
  const torch::Tensor x = torch::zeros({2, 6, 5});
  auto message = [&](const torch::Tensor& lengths) {
    try {
      model->forward(x, lengths);
    } catch (const c10::Error& e) {
      return std::string(e.what_without_backtrace());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(torch::tensor({6, 0})).find("in [1, 6]"), std::string::npos);
  EXPECT_NE(message(torch::tensor({6, 7})).find("from 6 to 7"), std::string::npos);
  EXPECT_NE(message(torch::tensor({6})).find("shape (2)"), std::string::npos);
  EXPECT_NE(message(torch::tensor({6.0, 2.0})).find("integer"), std::string::npos);
}

TEST(Lengths, TrainerStepOnAPaddedBatchEqualsTheMeanOfItsSequences) {
  // The step's loss over a padded batch is the mean of each sequence's loss
  // alone; the padding's values do not matter.
  NRNMClassifier model(
      NRNMOptions(5, 3).hidden_size(8).layers(1).seed(2).zoneout(0).memory_dropout(0).aggregation_dropout(0));
  torch::Generator data = make_generator(7);
  torch::Tensor x = torch::randn({3, 14, 5}, data);
  const torch::Tensor lengths = torch::tensor({14, 3, 11});
  const torch::Tensor y = torch::tensor({0, 2, 1});
  double mean = 0;
  {
    torch::NoGradGuard no_grad;
    for (int64_t b = 0; b < 3; ++b) {
      const torch::Tensor alone = x[b].narrow(0, 0, lengths[b].item<int64_t>()).unsqueeze(0);
      mean += at::cross_entropy_loss(model->forward(alone), y.narrow(0, b, 1)).item<double>() / 3;
    }
  }
  x[1].narrow(0, 3, 11).fill_(-50);
  Trainer trainer(model, TrainerOptions().lr(0));
  const StepResult r = trainer.step(x, y, lengths);
  EXPECT_NEAR(r.loss, mean, 1e-6);
  EXPECT_EQ(r.targets, 3);
  const EvalResult e = trainer.evaluate(x, y, lengths);
  EXPECT_NEAR(e.loss_sum / 3, mean, 1e-6);
}

}  // namespace
