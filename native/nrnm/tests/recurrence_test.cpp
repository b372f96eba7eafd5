// The fused CPU recurrence (recurrence.h) against its per-step ATen
// reference: outputs and every gradient, for each zoneout form, with and
// without memory terms, in float64 (1e-10) and float32 (1e-5); and whole
// models in training mode with the fused path on and off.

#include "nrnm/classifier.h"
#include "nrnm/recurrence.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

struct Case {
  std::string name;
  bool terms;
  std::string zoneout; // none, shared, per_step, eval
  torch::ScalarType dtype;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (const char* zoneout : {"none", "shared", "per_step", "eval"}) {
      for (bool terms : {false, true}) {
        out.push_back({std::string(zoneout) + (terms ? "_terms" : "") +
                (dtype == torch::kDouble ? "_f64" : "_f32"),
            terms, zoneout, dtype});
      }
    }
  }
  return out;
}

class Recurrence : public ::testing::TestWithParam<Case> {};

struct SegmentRun {
  std::vector<torch::Tensor> values; // outputs, h, c, then the gradients
  std::string node;
};

SegmentRun run_segment(const Case& c, bool fused, int64_t S, int64_t B, int64_t H) {
  torch::manual_seed(7);
  const auto opts = torch::TensorOptions().dtype(c.dtype);
  torch::Tensor x_gates = torch::randn({S, B, 4 * H}, opts).requires_grad_();
  torch::Tensor terms = c.terms ? torch::randn({S, B, H}, opts).mul_(0.5).requires_grad_() : torch::Tensor();
  torch::Tensor h0 = torch::randn({B, H}, opts).mul_(0.5).requires_grad_();
  torch::Tensor c0 = torch::randn({B, H}, opts).requires_grad_();
  torch::Tensor weight = torch::randn({H, 4 * H}, opts).mul_(0.3).requires_grad_();
  nrnm::SegmentZoneout zoneout;
  if (c.zoneout == "shared") zoneout.mask = torch::rand({1, H}, opts).lt(0.7).to(c.dtype);
  if (c.zoneout == "per_step") zoneout.mask = torch::rand({S, B, H}, opts).lt(0.7).to(c.dtype);
  if (c.zoneout == "eval") zoneout.keep = 0.8;
  // Weights for a loss that reads every output.
  const torch::Tensor w_out = torch::randn({S, B, H}, opts);
  const torch::Tensor w_h = torch::randn({B, H}, opts);
  const torch::Tensor w_c = torch::randn({B, H}, opts);

  const nrnm::SegmentOutput out = fused
      ? nrnm::lstm_segment(x_gates, terms, h0, c0, weight, zoneout)
      : nrnm::lstm_segment_reference(x_gates, terms, h0, c0, weight, zoneout);
  ((out.outputs * w_out).sum() + (out.h * w_h).sum() + (out.c * w_c).sum()).backward();
  SegmentRun r;
  r.node = out.outputs.grad_fn() ? out.outputs.grad_fn()->name() : "";
  r.values = {out.outputs.detach(), out.h.detach(), out.c.detach(), x_gates.grad(), h0.grad(),
      c0.grad(), weight.grad()};
  if (c.terms) r.values.push_back(terms.grad());
  return r;
}

TEST_P(Recurrence, FusedMatchesReference) {
  const Case& c = GetParam();
  const SegmentRun fused = run_segment(c, true, 7, 3, 5);
  const SegmentRun reference = run_segment(c, false, 7, 3, 5);
  EXPECT_NE(fused.node.find("LstmSegment"), std::string::npos) << "fused path not taken: " << fused.node;
  const double tolerance = c.dtype == torch::kDouble ? 1e-10 : 1e-5;
  const char* names[] = {"outputs", "h", "c", "grad x_gates", "grad h0", "grad c0", "grad weight_hh", "grad terms"};
  ASSERT_EQ(fused.values.size(), reference.values.size());
  for (size_t i = 0; i < fused.values.size(); ++i) {
    ASSERT_TRUE(fused.values[i].defined()) << names[i];
    const double diff = (fused.values[i] - reference.values[i]).abs().max().item<double>();
    EXPECT_LE(diff, tolerance) << names[i] << ": max |diff| " << diff;
  }
}

INSTANTIATE_TEST_SUITE_P(All, Recurrence, ::testing::ValuesIn(cases()),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Recurrence, FallsBackOffCpuFloat) {
  // Integer or half inputs are not fused (the reference handles or rejects them).
  torch::Tensor x = torch::randn({2, 1, 8}, torch::kFloat);
  torch::Tensor h = torch::zeros({1, 2}, torch::kFloat);
  torch::Tensor w = torch::randn({2, 8}, torch::kFloat).requires_grad_();
  nrnm::set_fused_recurrence(false);
  const nrnm::SegmentOutput out = nrnm::lstm_segment(x, {}, h, h, w, {});
  nrnm::set_fused_recurrence(true);
  EXPECT_EQ(out.outputs.grad_fn()->name().find("LstmSegment"), std::string::npos);
  EXPECT_THROW(nrnm::lstm_segment(x, {}, h, h, w.narrow(1, 0, 4), {}), c10::Error);
}

// Whole models in training mode (zoneout and dropouts drawn from the same
// seed): logits and all gradients with the fused path on and off.
void compare_models(nrnm::NRNMOptions options, torch::ScalarType dtype, double tolerance) {
  std::vector<std::vector<torch::Tensor>> results;
  for (bool fused : {true, false}) {
    nrnm::set_fused_recurrence(fused);
    nrnm::NRNMClassifier model(options);
    model->to(dtype);
    model->train();
    torch::manual_seed(3);
    const torch::Tensor x = torch::randn({4, 23, options.input_size()}).to(dtype);
    const torch::Tensor y = torch::randint(0, options.classes(), {4}, torch::kLong);
    const torch::Tensor logits = model->forward(x);
    torch::nn::functional::cross_entropy(logits, y).backward();
    std::vector<torch::Tensor> values = {logits.detach()};
    for (const auto& p : model->named_parameters()) {
      values.push_back(p.value().grad().defined() ? p.value().grad() : torch::zeros_like(p.value()));
    }
    results.push_back(values);
  }
  nrnm::set_fused_recurrence(true);
  for (size_t i = 0; i < results[0].size(); ++i) {
    const double diff = (results[0][i] - results[1][i]).abs().max().item<double>();
    EXPECT_LE(diff, tolerance) << "tensor #" << i << ": max |diff| " << diff;
  }
}

TEST(Recurrence, ModelTrainingSharedZoneoutDilated) {
  compare_models(nrnm::NRNMOptions(150, 5).hidden_size(8).layers(2).seed(1), torch::kDouble, 1e-10);
}

TEST(Recurrence, ModelTrainingPerStepZoneoutStrided) {
  compare_models(nrnm::NRNMOptions(6, 5)
                     .hidden_size(8)
                     .layers(2)
                     .input_aggregation(nrnm::InputAggregation::kStrided)
                     .zoneout_mode(nrnm::ZoneoutMode::kPerStep)
                     .memory_dropout_mode(nrnm::MemoryDropoutMode::kPerSample)
                     .seed(2),
      torch::kDouble, 1e-10);
}

TEST(Recurrence, ModelTrainingFloat32) {
  compare_models(nrnm::NRNMOptions(6, 5)
                     .hidden_size(16)
                     .layers(1)
                     .input_aggregation(nrnm::InputAggregation::kStrided)
                     .seed(4),
      torch::kFloat, 1e-5);
}

} // namespace
