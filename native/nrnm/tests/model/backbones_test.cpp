// GRU and RNN backbones (options.backbone, gru_rnn_segment.h): without
// memory they are exactly PyTorch's nn.GRU / nn.RNN; with memory their
// float64 gradients match central differences; padding changes nothing.

#include "nrnm/model/classifier.h"
#include "nrnm/train/loss.h"
#include "nrnm/model/random.h"
#include "tests/support/central_difference.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/rnn.h>

#include <string>
#include <vector>

namespace {

using namespace nrnm;
using nrnm_test::expect_central_differences;

NRNMOptions small(Backbone backbone) {
  return NRNMOptions(5, 3).hidden_size(8).layers(2).seed(8).backbone(backbone).input_aggregation(
      InputAggregation::kStrided);
}

torch::Tensor input(int64_t B, int64_t T) {
  torch::Generator data = make_generator(13);
  return torch::randn({B, T, 5}, data);
}

class Backbones : public ::testing::TestWithParam<Backbone> {};

TEST_P(Backbones, ShapesAndNames) {
  NRNMClassifier model(small(GetParam()));
  const int64_t gates = GetParam() == Backbone::kGRU ? 3 : 1;
  auto params = model->named_parameters();
  EXPECT_EQ(params["rnn.cell_0.weight_ih"].sizes(), (std::vector<int64_t>{5, gates * 8}));
  EXPECT_EQ(params["rnn.cell_1.weight_hh"].sizes(), (std::vector<int64_t>{8, gates * 8}));
  EXPECT_EQ(params.contains("rnn.cell_0.bias_hh"), GetParam() == Backbone::kGRU);
  model->eval();
  EXPECT_EQ(model->forward(input(3, 23)).sizes(), (std::vector<int64_t>{3, 3}));
}

// Before the first memory update (t < k) the term is 0: one layer without
// zoneout is PyTorch's GRU / RNN with the same weights.
TEST_P(Backbones, WithoutMemoryItIsPyTorchsOwnRecurrence) {
  NRNMClassifier model(small(GetParam()).layers(1).zoneout(0).head(HeadKind::kLinear));
  model->eval();
  auto& cell = model->rnn->cells[0];
  const torch::Tensor x = input(3, 10);  // updates at t = 10, 20, ...: none
  torch::Tensor ours;
  model->rnn->forward(x.transpose(0, 1).contiguous(), model->generator, nullptr, &ours);
  torch::Tensor theirs;
  torch::NoGradGuard no_grad;
  if (GetParam() == Backbone::kGRU) {
    torch::nn::GRU gru(torch::nn::GRUOptions(5, 8).batch_first(true));
    gru->named_parameters()["weight_ih_l0"].copy_(cell->weight_ih.t());
    gru->named_parameters()["weight_hh_l0"].copy_(cell->weight_hh.t());
    gru->named_parameters()["bias_ih_l0"].copy_(cell->bias);
    gru->named_parameters()["bias_hh_l0"].copy_(cell->bias_hh);
    theirs = std::get<0>(gru->forward(x)).select(1, 9);
  } else {
    torch::nn::RNN rnn(torch::nn::RNNOptions(5, 8).batch_first(true).nonlinearity(torch::kTanh));
    rnn->named_parameters()["weight_ih_l0"].copy_(cell->weight_ih.t());
    rnn->named_parameters()["weight_hh_l0"].copy_(cell->weight_hh.t());
    rnn->named_parameters()["bias_ih_l0"].copy_(cell->bias);
    rnn->named_parameters()["bias_hh_l0"].zero_();
    theirs = std::get<0>(rnn->forward(x)).select(1, 9);
  }
  EXPECT_LT((ours - theirs).abs().max().item<double>(), 1e-6);
}

TEST_P(Backbones, Float64GradientsMatchCentralDifferences) {
  for (bool training : {false, true}) {
    NRNMClassifier model(small(GetParam()).init(InitScheme::kStandard));
    model->to(torch::kDouble);
    model->train(training);
    const torch::Tensor x = input(2, 22).to(torch::kDouble);
    const torch::Tensor y = torch::tensor({1, 2});
    const torch::Tensor lengths = torch::tensor({22, 16});
    // Training: the same masks for every evaluation (the generator rewound).
    const torch::Tensor state = model->generator.get_state();
    auto loss = [&]() {
      model->generator.set_state(state);
      return task_loss(model->forward(x, lengths), y, lengths).loss;
    };
    loss().backward();
    auto params = model->named_parameters();
    std::vector<std::string> names = {"rnn.cell_0.weight_ih",   "rnn.cell_0.weight_hh",
                                      "rnn.cell_1.bias",        "rnn.cell_0.weight_memt",
                                      "rnn.cell_1.weight_memh", "rnn.cell_0.MC.qkv_projector.weight"};
    if (GetParam() == Backbone::kGRU) names.push_back("rnn.cell_1.bias_hh");
    for (const auto& name : names) {
      torch::Tensor p = params[name];
      expect_central_differences(p, loss, name + (training ? " training" : " eval"), /*middle_divisor=*/3);
    }
  }
}

TEST_P(Backbones, PaddedSamplesEqualThemselvesAlone) {
  NRNMClassifier model(small(GetParam()));
  model->eval();
  const torch::Tensor x = input(3, 23);
  const std::vector<int64_t> lengths = {23, 4, 15};
  const torch::Tensor logits = model->forward(x, torch::tensor(lengths));
  for (int64_t b = 0; b < 3; ++b) {
    const torch::Tensor alone = model->forward(x[b].narrow(0, 0, lengths[b]).unsqueeze(0))[0];
    EXPECT_LT((alone - logits[b]).abs().max().item<double>(), 1e-6) << "sample " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(GruAndRnn, Backbones, ::testing::Values(Backbone::kGRU, Backbone::kRNN),
                         [](const ::testing::TestParamInfo<Backbone>& info) {
                           return std::string(to_string(info.param));
                         });

}  // namespace
