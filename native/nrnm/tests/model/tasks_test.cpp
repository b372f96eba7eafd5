// Per-step tasks (options.task, loss.h) and the attention ablation
// (options.attention 'linear', NRNM w/o SA).

#include "nrnm/model/classifier.h"
#include "nrnm/train/loss.h"
#include "nrnm/model/random.h"
#include "nrnm/train/trainer.h"
#include "tests/support/central_difference.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace nrnm;
using nrnm_test::expect_central_differences;

NRNMOptions small(Task task) { return NRNMOptions(5, 3).hidden_size(8).layers(2).seed(6).task(task); }

torch::Tensor input(int64_t B, int64_t T) {
  torch::Generator data = make_generator(11);
  return torch::randn({B, T, 5}, data);
}

TEST(Tasks, PerStepLogitsAtTheLastValidStepAreTheSequenceLogits) {
  NRNMClassifier sequence(small(Task::kClassifySequence));
  NRNMClassifier steps(small(Task::kClassifySteps));
  sequence->eval();
  steps->eval();
  const torch::Tensor x = input(4, 23);
  const torch::Tensor lengths = torch::tensor({23, 5, 17, 11});
  const torch::Tensor per_step = steps->forward(x, lengths);  // (B, T, C)
  ASSERT_EQ(per_step.sizes(), (std::vector<int64_t>{4, 23, 3}));
  const torch::Tensor last = sequence->forward(x, lengths);  // (B, C)
  for (int64_t b = 0; b < 4; ++b) {
    const int64_t t = lengths[b].item<int64_t>() - 1;
    EXPECT_TRUE(torch::allclose(per_step[b][t], last[b], 0, 1e-6)) << "sample " << b;
    // The steps of a sequence alone are its first steps in the padded batch.
    const torch::Tensor alone = steps->forward(x[b].narrow(0, 0, t + 1).unsqueeze(0))[0];
    EXPECT_LT((alone - per_step[b].narrow(0, 0, t + 1)).abs().max().item<double>(), 1e-6);
  }
}

TEST(Tasks, PerStepLossesCountValidStepsOnly) {
  const torch::Tensor logits = torch::randn({2, 4, 3}, make_generator(1));
  const torch::Tensor labels = torch::tensor({0, 1, 2, 1, 2, 2, 0, 0}).view({2, 4});
  const torch::Tensor lengths = torch::tensor({4, 2});
  const TaskLoss ce = task_loss(logits, labels, lengths);
  // By hand: the 6 valid steps.
  double sum = 0;
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < lengths[b].item<int64_t>(); ++t) {
      sum -= torch::log_softmax(logits[b][t], 0)[labels[b][t].item<int64_t>()].item<double>();
    }
  }
  EXPECT_NEAR(ce.loss.item<double>(), sum / 6, 1e-6);
  EXPECT_EQ(ce.targets.item<double>(), 6);
  const torch::Tensor values = torch::randn({2, 4, 3}, make_generator(2));
  const TaskLoss mse = task_loss(logits, values, lengths);
  const torch::Tensor diff = (logits - values).pow(2);
  const double expected = (diff[0].sum() + diff[1].narrow(0, 0, 2).sum()).item<double>() / (6 * 3);
  EXPECT_NEAR(mse.loss.item<double>(), expected, 1e-6);
  EXPECT_EQ(mse.correct.item<int64_t>(), 0);
}

TEST(Tasks, TrainerLearnsARegressionAtEveryStep) {
  // Target: the running mean of the first feature (needs the recurrence).
  NRNMClassifier model(NRNMOptions(5, 1)
                           .hidden_size(16)
                           .layers(1)
                           .seed(2)
                           .task(Task::kRegressSteps)
                           .head(HeadKind::kLinear)
                           .input_aggregation(InputAggregation::kStrided)
                           .zoneout(0)
                           .memory_dropout(0));
  const torch::Tensor x = input(16, 12);
  const torch::Tensor y = x.select(2, 0).cumsum(1) / torch::arange(1, 13).to(torch::kFloat);
  Trainer trainer(model, TrainerOptions().lr(1e-2).weight_decay(0));
  const torch::Tensor targets = y.unsqueeze(2);  // (B, T, 1)
  const double first = trainer.step(x, targets).loss;
  double last = first;
  for (int i = 0; i < 60; ++i) last = trainer.step(x, targets).loss;
  EXPECT_LT(last, first * 0.5);
  const EvalResult e = trainer.evaluate(x, targets);
  EXPECT_EQ(e.targets, 16 * 12);
  EXPECT_EQ(e.logits.sizes(), (std::vector<int64_t>{16, 12, 1}));
}

TEST(Attention, LinearReplacesTheSelfAttentionParameters) {
  NRNMClassifier model(small(Task::kClassifySequence).attention(AttentionKind::kLinear));
  const auto params = model->named_parameters();
  EXPECT_TRUE(params.contains("rnn.cell_0.MC.linear_transform.weight"));
  EXPECT_FALSE(params.contains("rnn.cell_0.MC.qkv_projector.weight"));
  EXPECT_FALSE(params.contains("rnn.cell_0.MC.qkv_layernorm.weight"));
  const int64_t N = 3 * 8;  // (n + 1) H
  EXPECT_EQ(params["rnn.cell_0.MC.linear_transform.weight"].sizes(), (std::vector<int64_t>{N, N}));
  // The default keeps the official names.
  NRNMClassifier official(small(Task::kClassifySequence));
  EXPECT_TRUE(official->named_parameters().contains("rnn.cell_0.MC.qkv_projector.weight"));
}

TEST(Attention, LinearGradientsMatchCentralDifferencesInFloat64) {
  for (InitScheme init : {InitScheme::kOfficial, InitScheme::kStandard}) {
    NRNMClassifier model(small(Task::kClassifySteps)
                             .attention(AttentionKind::kLinear)
                             .init(init)
                             .input_aggregation(InputAggregation::kStrided));
    model->to(torch::kDouble);
    model->eval();
    const torch::Tensor x = input(2, 21).to(torch::kDouble);
    const torch::Tensor y = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2,
                                           2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0})
                                .view({2, 21});
    const torch::Tensor lengths = torch::tensor({21, 14});
    auto loss = [&]() {
      return task_loss(model->forward(x, lengths), y, lengths).loss;
    };
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    loss().backward();
    auto params = model->named_parameters();
    for (const char* name : {"rnn.cell_0.MC.linear_transform.weight", "rnn.cell_1.MC.linear_transform.bias",
                             "rnn.cell_0.weight_memt", "rnn.cell_1.MC.attention_mlp.0.weight"}) {
      torch::Tensor p = params[name];
      expect_central_differences(p, loss, name);
    }
  }
}

}  // namespace
