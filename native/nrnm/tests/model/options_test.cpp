// Option validation, the official parameter names and shapes, printing and
// input shape checks.

#include "nrnm/model/classifier.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace nrnm;

// Expects validate() and the classifier's constructor to throw a c10::Error
// whose message contains `expected`.
void expect_invalid(const NRNMOptions& options, const std::string& expected) {
  for (int constructor = 0; constructor < 2; ++constructor) {
    try {
      if (constructor) {
        NRNMClassifier model(options);
      } else {
        validate(options);
      }
      ADD_FAILURE() << "no error; expected: " << expected;
    } catch (const c10::Error& error) {
      EXPECT_NE(std::string(error.what_without_backtrace()).find(expected), std::string::npos)
          << "message: " << error.what_without_backtrace() << "\nexpected: " << expected;
    }
  }
}

TEST(NRNMOptions, DefaultsAreTheOfficialOnes) {
  const NRNMOptions o(150, 60);
  EXPECT_EQ(o.hidden_size(), 512);
  EXPECT_EQ(o.layers(), 2);
  EXPECT_EQ(o.block_length(), 10);
  EXPECT_EQ(o.stride(), 5);
  EXPECT_EQ(o.heads(), 4);
  EXPECT_EQ(o.input_aggregation(), InputAggregation::kDilated);
  EXPECT_EQ(o.zoneout(), 0.2);
  EXPECT_EQ(o.zoneout_mode(), ZoneoutMode::kShared);
  EXPECT_EQ(o.memory_dropout(), 0.5);
  EXPECT_EQ(o.memory_dropout_mode(), MemoryDropoutMode::kShared);
  EXPECT_EQ(o.aggregation_dropout(), 0.5);
  EXPECT_EQ(o.init(), InitScheme::kOfficial);
  EXPECT_EQ(o.head(), HeadKind::kLinearElu);
  EXPECT_EQ(o.seed(), 0u);
  EXPECT_NO_THROW(validate(o));
  EXPECT_STREQ(to_string(ZoneoutMode::kPerStep), "per-step");
  EXPECT_STREQ(to_string(MemoryDropoutMode::kPerSample), "per-sample");
  EXPECT_STREQ(to_string(HeadKind::kLinearElu), "linear-elu");
}

TEST(NRNMOptions, ValidationMessages) {
  const auto strided = [] {
    return NRNMOptions(6, 3).input_aggregation(InputAggregation::kStrided);
  };
  expect_invalid(strided().stride(3), "stride must divide blockLength (got 10 and 3)");
  expect_invalid(NRNMOptions(6, 3).block_length(8).stride(4),
                 "inputAggregation 'dilated' needs blockLength 10 and stride 5 (got 8 and 4)");
  expect_invalid(NRNMOptions(6, 3).hidden_size(100).heads(3), "hiddenSize must be divisible by heads (got 100 and 3)");
  expect_invalid(NRNMOptions(0, 3), "inputSize must be a positive integer (got 0)");
  expect_invalid(NRNMOptions(6, -1), "classes must be a positive integer (got -1)");
  expect_invalid(NRNMOptions(6, 3).layers(0), "layers must be a positive integer (got 0)");
  expect_invalid(NRNMOptions(6, 3).hidden_size(0), "hiddenSize must be a positive integer");
  expect_invalid(strided().block_length(0), "blockLength must be a positive integer (got 0)");
  expect_invalid(strided().stride(0), "stride must be a positive integer (got 0)");
  expect_invalid(NRNMOptions(6, 3).heads(0), "heads must be a positive integer (got 0)");
  expect_invalid(NRNMOptions(6, 3).zoneout(1), "zoneout must be in [0, 1) (got 1)");
  expect_invalid(NRNMOptions(6, 3).memory_dropout(-0.1), "memoryDropout must be in [0, 1) (got -0.1)");
  expect_invalid(NRNMOptions(6, 3).aggregation_dropout(1.5), "aggregationDropout must be in [0, 1) (got 1.5)");
  EXPECT_NO_THROW(validate(strided().block_length(8).stride(4)));
}

std::vector<std::string> cell_names(const std::string& prefix, const std::string& aggregation) {
  std::vector<std::string> names;
  for (const char* name : {"weight_ih",
                           "weight_hh",
                           "weight_memh",
                           "weight_memt",
                           "weight_memi",
                           "bias",
                           "mem_bias",
                           "MC.forget_bias",
                           "MC.input_bias",
                           "MC.qkv_projector.weight",
                           "MC.qkv_projector.bias",
                           "MC.qkv_layernorm.weight",
                           "MC.qkv_layernorm.bias",
                           "MC.attention_mlp.0.weight",
                           "MC.attention_mlp.0.bias",
                           "MC.attended_memory_layernorm.weight",
                           "MC.attended_memory_layernorm.bias",
                           "MC.attended_memory_layernorm2.weight",
                           "MC.attended_memory_layernorm2.bias",
                           "MC.input_projector.weight",
                           "MC.input_projector.bias",
                           "MC.input_gate_projector.weight",
                           "MC.input_gate_projector.bias",
                           "MC.memory_gate_projector.weight",
                           "MC.memory_gate_projector.bias"}) {
    names.push_back(prefix + name);
  }
  if (!aggregation.empty()) {
    names.push_back(prefix + aggregation + ".1.weight");
    names.push_back(prefix + aggregation + ".1.bias");
  }
  return names;
}

TEST(NRNMOptions, OfficialParameterNamesAndShapes) {
  NRNMClassifier model(NRNMOptions(150, 60));  // the official NTU model
  std::vector<std::string> expected = cell_names("rnn.cell_0.", "linear1");
  for (const auto& name : cell_names("rnn.cell_1.", "linear2")) expected.push_back(name);
  expected.push_back("decoder.0.weight");
  expected.push_back("decoder.0.bias");
  const auto named = model->named_parameters();
  std::vector<std::string> names;
  for (const auto& item : named) names.push_back(item.key());
  EXPECT_EQ(names, expected);

  using Shape = std::vector<int64_t>;
  const auto shape = [&](const std::string& name) {
    return named[name].sizes().vec();
  };
  EXPECT_EQ(shape("rnn.cell_0.weight_ih"), (Shape{150, 2048}));
  EXPECT_EQ(shape("rnn.cell_0.weight_hh"), (Shape{512, 2048}));
  EXPECT_EQ(shape("rnn.cell_0.weight_memh"), (Shape{1024, 1024}));
  EXPECT_EQ(shape("rnn.cell_0.weight_memt"), (Shape{1024, 512}));
  EXPECT_EQ(shape("rnn.cell_0.weight_memi"), (Shape{150, 1024}));
  EXPECT_EQ(shape("rnn.cell_0.MC.forget_bias"), Shape{});
  EXPECT_EQ(shape("rnn.cell_0.MC.qkv_projector.weight"), (Shape{1536, 512}));
  EXPECT_EQ(shape("rnn.cell_0.MC.qkv_layernorm.weight"), (Shape{3, 1536}));
  EXPECT_EQ(shape("rnn.cell_0.MC.attended_memory_layernorm.bias"), (Shape{3, 512}));
  EXPECT_EQ(shape("rnn.cell_0.MC.input_projector.weight"), (Shape{512, 300}));
  EXPECT_EQ(shape("rnn.cell_1.MC.input_projector.weight"), (Shape{512, 1024}));
  EXPECT_EQ(shape("rnn.cell_0.linear1.1.weight"), (Shape{300, 1200}));
  EXPECT_EQ(shape("rnn.cell_1.linear2.1.weight"), (Shape{1024, 4096}));
  EXPECT_EQ(shape("decoder.0.weight"), (Shape{60, 512}));
}

TEST(NRNMOptions, StridedHasNoAggregationLinearAndLinearHeadNoElu) {
  NRNMClassifier model(NRNMOptions(7, 3)
                           .hidden_size(6)
                           .heads(2)
                           .layers(1)
                           .block_length(6)
                           .stride(2)
                           .input_aggregation(InputAggregation::kStrided)
                           .head(HeadKind::kLinear));
  std::vector<std::string> expected = cell_names("rnn.cell_0.", "");
  expected.push_back("decoder.0.weight");
  expected.push_back("decoder.0.bias");
  std::vector<std::string> names;
  for (const auto& item : model->named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names, expected);
  EXPECT_EQ(model->named_parameters()["rnn.cell_0.weight_memh"].sizes().vec(),
            (std::vector<int64_t>{18, 18}));  // n = 3 slots
  EXPECT_EQ(model->decoder->size(), 1u);
  model->eval();
  // no ELU: logits below -1 are possible; with ELU they are not
  {
    torch::NoGradGuard no_grad;
    model->named_parameters()["decoder.0.bias"].fill_(-5);
  }
  EXPECT_LT(model->forward(torch::zeros({2, 4, 7})).max().item<float>(), -1);
}

TEST(NRNMOptions, PrettyPrint) {
  NRNMClassifier model(NRNMOptions(150, 60));
  std::ostringstream out;
  model->pretty_print(out);
  EXPECT_EQ(out.str(), "NRNMClassifier(150, 60, hidden=512, layers=2, k=10, s=5, heads=4, dilated)");
  out.str("");
  model->rnn->cells[0]->pretty_print(out);
  EXPECT_EQ(out.str(), "NRNMCell(150, 512, k=10, s=5)");
  out.str("");
  model->rnn->cells[1]->MC->pretty_print(out);
  EXPECT_EQ(out.str(), "MemoryBlock(512, 512, slots=2, heads=4)");
  std::ostringstream tree;
  tree << *model;
  EXPECT_NE(tree.str().find("(linear1): DilatedAggregation(8x150 -> 300)"), std::string::npos) << tree.str();
}

TEST(NRNMOptions, InputShapeChecks) {
  NRNMClassifier model(NRNMOptions(5, 3).hidden_size(8).layers(1));
  const auto message = [&](const torch::Tensor& x) -> std::string {
    try {
      model->forward(x);
    } catch (const c10::Error& error) {
      return error.what_without_backtrace();
    }
    return "no error";
  };
  EXPECT_NE(message(torch::zeros({2, 4, 6})).find("expects x of shape (batch, time, 5)"), std::string::npos);
  EXPECT_NE(message(torch::zeros({2, 4})).find("expects x of shape"), std::string::npos);
  EXPECT_NE(message(torch::zeros({2, 0, 5})).find("at least one sample and one step"), std::string::npos);
  EXPECT_NE(message(torch::zeros({2, 4, 5}, torch::kLong)).find("floating-point"), std::string::npos);
  EXPECT_EQ(model->forward(torch::zeros({2, 1, 5}, torch::kDouble)).sizes().vec(), (std::vector<int64_t>{2, 3}));
}

}  // namespace
