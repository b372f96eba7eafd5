// Streaming inference (NRNMClassifierImpl::forward_chunk): a sequence fed in
// chunks gives the whole-sequence forward's outputs, for every backbone,
// attention kind, task and input aggregation.

#include "nrnm/model/classifier.h"
#include "nrnm/model/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace nrnm;

struct Variant {
  Backbone backbone;
  AttentionKind attention;
  Task task;
  InputAggregation aggregation;
};

std::string name(const Variant& v) {
  return std::string(to_string(v.backbone)) + "/" + to_string(v.attention) + "/" + to_string(v.task) + "/" +
         to_string(v.aggregation);
}

NRNMOptions options_of(const Variant& v) {
  NRNMOptions o = NRNMOptions(5, 3)
                      .hidden_size(8)
                      .heads(2)
                      .layers(2)
                      .seed(4)
                      .backbone(v.backbone)
                      .attention(v.attention)
                      .task(v.task)
                      .input_aggregation(v.aggregation);
  // dilated needs k = 10, s = 5 (official); strided takes any k % s == 0.
  if (v.aggregation == InputAggregation::kStrided) o.block_length(6).stride(3);
  return o;
}

// The outputs of `model` over x (B, T, F) fed in chunks of `chunk` steps
// (the last one shorter), concatenated: (B, T, C).
torch::Tensor streamed(NRNMClassifier& model, const torch::Tensor& x, int64_t chunk) {
  NRNMStreamState state;
  std::vector<torch::Tensor> parts;
  for (int64_t t = 0; t < x.size(1); t += chunk) {
    parts.push_back(model->forward_chunk(x.narrow(1, t, std::min(chunk, x.size(1) - t)), state));
  }
  EXPECT_EQ(state.steps(), std::vector<int64_t>(static_cast<size_t>(x.size(0)), x.size(1)));
  return torch::cat(parts, 1);
}

std::vector<Variant> all_variants() {
  std::vector<Variant> variants;
  for (Backbone b : {Backbone::kLSTM, Backbone::kGRU, Backbone::kRNN}) {
    for (AttentionKind a : {AttentionKind::kSelf, AttentionKind::kLinear}) {
      for (Task t : {Task::kClassifySequence, Task::kClassifySteps, Task::kRegressSteps}) {
        for (InputAggregation g : {InputAggregation::kDilated, InputAggregation::kStrided}) {
          variants.push_back({b, a, t, g});
        }
      }
    }
  }
  return variants;
}

TEST(Stream, ChunksOfOneThreeAndKGiveTheWholeSequenceForward) {
  torch::NoGradGuard no_grad;
  const int64_t T = 47;  // updates at 10, 20, 30, 40 (k = 10) or every 6 steps (k = 6)
  const torch::Tensor x = torch::randn({3, T, 5}, make_generator(9));
  double worst = 0;
  for (const Variant& v : all_variants()) {
    NRNMClassifier model(options_of(v));
    model->eval();
    const torch::Tensor whole = model->forward(x);  // (B, C) or (B, T, C)
    std::ostringstream line;
    line << "[stream] " << name(v) << " max |stream - forward|:";
    for (int64_t chunk : {int64_t(1), int64_t(3), model->options.block_length(), T}) {
      const torch::Tensor steps = streamed(model, x, chunk);  // (B, T, C)
      ASSERT_EQ(steps.sizes(), (std::vector<int64_t>{3, T, 3})) << name(v);
      // classify-sequence: the logits at the last step are the forward's;
      // per-step tasks: every step.
      const torch::Tensor compared = v.task == Task::kClassifySequence ? steps.select(1, T - 1) : steps;
      const double error = (compared - whole).abs().max().item<double>();
      worst = std::max(worst, error);
      line << " chunk " << chunk << ": " << error;
      EXPECT_LT(error, 1e-6) << name(v) << ", chunks of " << chunk;
    }
    std::cout << line.str() << std::endl;
  }
  std::cout << "[stream] worst " << worst << std::endl;
  RecordProperty("worst_error", std::to_string(worst));
}

TEST(Stream, ResetRowsStartsThoseRowsOverWhileTheOthersGoOn) {
  torch::NoGradGuard no_grad;
  const int64_t before = 13;  // row 1 then runs 13 steps behind: other update steps (and t mod 6)
  const int64_t after = 34;
  const torch::Tensor x = torch::randn({3, before + after, 5}, make_generator(11));
  for (InputAggregation g : {InputAggregation::kDilated, InputAggregation::kStrided}) {
    for (Backbone b : {Backbone::kLSTM, Backbone::kGRU}) {
      const Variant v{b, AttentionKind::kSelf, Task::kClassifySteps, g};
      NRNMClassifier model(options_of(v));
      model->eval();
      NRNMStreamState state;
      model->forward_chunk(x.narrow(1, 0, before), state);
      state.reset(std::vector<int64_t>{1});
      EXPECT_EQ(state.steps(), (std::vector<int64_t>{before, 0, before}));
      std::vector<torch::Tensor> parts;
      for (int64_t t = 0; t < after; t += 4) {
        parts.push_back(model->forward_chunk(x.narrow(1, before + t, std::min<int64_t>(4, after - t)), state));
      }
      const torch::Tensor streamed_after = torch::cat(parts, 1);                               // (3, after, C)
      const torch::Tensor whole = model->forward(x);                                           // (3, before + after, C)
      const torch::Tensor fresh = model->forward(x.narrow(1, before, after).narrow(0, 1, 1));  // (1, after, C)
      const torch::Tensor kept_rows = torch::tensor({0, 2}, torch::kLong);
      const double kept =
          (streamed_after.index_select(0, kept_rows) - whole.index_select(0, kept_rows).narrow(1, before, after))
              .abs()
              .max()
              .item<double>();
      const double restarted = (streamed_after.narrow(0, 1, 1) - fresh).abs().max().item<double>();
      EXPECT_LT(kept, 1e-6) << name(v);
      EXPECT_LT(restarted, 1e-6) << name(v);
      std::cout << "[stream] reset row " << name(v) << ": kept rows " << kept << ", restarted row " << restarted
                << std::endl;
    }
  }
}

TEST(Stream, ClassifySequenceLogitsAtEachStepAreThoseOfTheSequenceEndingThere) {
  torch::NoGradGuard no_grad;
  NRNMClassifier model(
      options_of({Backbone::kLSTM, AttentionKind::kSelf, Task::kClassifySequence, InputAggregation::kDilated}));
  model->eval();
  const torch::Tensor x = torch::randn({2, 23, 5}, make_generator(3));
  const torch::Tensor steps = streamed(model, x, 4);
  for (int64_t t : {0, 9, 10, 11, 20, 22}) {
    const torch::Tensor prefix = model->forward(x.narrow(1, 0, t + 1));  // (B, C)
    EXPECT_LT((steps.select(1, t) - prefix).abs().max().item<double>(), 1e-6) << "step " << t;
  }
}

TEST(Stream, Float64AgreesToRounding) {
  torch::NoGradGuard no_grad;
  NRNMClassifier model(
      options_of({Backbone::kLSTM, AttentionKind::kSelf, Task::kClassifySteps, InputAggregation::kDilated}));
  model->to(torch::kDouble);
  model->eval();
  const torch::Tensor x = torch::randn({2, 31, 5}, make_generator(5)).to(torch::kDouble);
  EXPECT_LT((streamed(model, x, 1) - model->forward(x)).abs().max().item<double>(), 1e-12);
}

TEST(Stream, RefusesTrainingModeAndAnotherBatchSize) {
  torch::NoGradGuard no_grad;
  NRNMClassifier model(
      options_of({Backbone::kLSTM, AttentionKind::kSelf, Task::kClassifySteps, InputAggregation::kDilated}));
  NRNMStreamState state;
  const torch::Tensor x = torch::randn({2, 4, 5}, make_generator(1));
  EXPECT_THROW(
      {
        try {
          model->forward_chunk(x, state);
        } catch (const c10::Error& e) {
          EXPECT_NE(std::string(e.what_without_backtrace()).find("evaluation mode"), std::string::npos);
          throw;
        }
      },
      c10::Error);
  model->eval();
  model->forward_chunk(x, state);
  EXPECT_THROW(model->forward_chunk(torch::randn({3, 4, 5}), state), c10::Error);
  EXPECT_THROW(model->forward_chunk(torch::randn({2, 4, 6}), state), c10::Error);
  EXPECT_EQ(state.steps(), (std::vector<int64_t>{4, 4}));  // the refused chunks changed nothing
  EXPECT_THROW(state.reset(std::vector<int64_t>{0, 2}), c10::Error);
  EXPECT_EQ(state.steps(), (std::vector<int64_t>{4, 4}));
}

}  // namespace
