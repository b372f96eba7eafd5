// The fused recurrence (lstm_segment.h) against its per-step ATen reference:
// outputs and every gradient, for each zoneout form, with and without memory
// terms, in float64 (1e-10) and float32 (1e-5), on the CPU and (where there
// is a GPU) with the CUDA kernels; and whole models in training mode with the
// fused path on and off.

#include "nrnm/model/classifier.h"
#include "nrnm/model/lstm_segment.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

struct Case {
  std::string name;
  bool terms;
  std::string zoneout;  // none, shared, per_step, eval
  torch::ScalarType dtype;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (const char* zoneout : {"none", "shared", "per_step", "eval"}) {
      for (bool terms : {false, true}) {
        out.push_back({std::string(zoneout) + (terms ? "_terms" : "") + (dtype == torch::kDouble ? "_f64" : "_f32"),
                       terms, zoneout, dtype});
      }
    }
  }
  return out;
}

class Recurrence : public ::testing::TestWithParam<Case> {};

struct SegmentRun {
  std::vector<torch::Tensor> values;  // outputs, h, c, then the gradients
  std::string node;
};

SegmentRun run_segment(const Case& c, bool fused, int64_t S, int64_t B, int64_t H, torch::Device device = torch::kCPU) {
  torch::manual_seed(7);
  // Drawn on the CPU (the same values on every device), then moved.
  const auto opts = torch::TensorOptions().dtype(c.dtype);
  auto leaf = [&](const torch::Tensor& t) {
    return t.to(device).requires_grad_();
  };
  torch::Tensor x_gates = leaf(torch::randn({S, B, 4 * H}, opts));
  torch::Tensor terms = c.terms ? leaf(torch::randn({S, B, H}, opts).mul_(0.5)) : torch::Tensor();
  torch::Tensor h0 = leaf(torch::randn({B, H}, opts).mul_(0.5));
  torch::Tensor c0 = leaf(torch::randn({B, H}, opts));
  torch::Tensor weight = leaf(torch::randn({H, 4 * H}, opts).mul_(0.3));
  nrnm::SegmentZoneout zoneout;
  if (c.zoneout == "shared") zoneout.mask = torch::rand({1, H}, opts).lt(0.7).to(c.dtype).to(device);
  if (c.zoneout == "per_step") zoneout.mask = torch::rand({S, B, H}, opts).lt(0.7).to(c.dtype).to(device);
  if (c.zoneout == "eval") zoneout.keep = 0.8;
  // Weights for a loss that reads every output.
  const torch::Tensor w_out = torch::randn({S, B, H}, opts).to(device);
  const torch::Tensor w_h = torch::randn({B, H}, opts).to(device);
  const torch::Tensor w_c = torch::randn({B, H}, opts).to(device);

  const nrnm::SegmentOutput out = fused ? nrnm::lstm_segment(x_gates, terms, h0, c0, weight, zoneout)
                                        : nrnm::lstm_segment_reference(x_gates, terms, h0, c0, weight, zoneout);
  ((out.outputs * w_out).sum() + (out.h * w_h).sum() + (out.c * w_c).sum()).backward();
  SegmentRun r;
  r.node = out.outputs.grad_fn() ? out.outputs.grad_fn()->name() : "";
  r.values = {out.outputs.detach(), out.h.detach(), out.c.detach(), x_gates.grad(), h0.grad(), c0.grad(),
              weight.grad()};
  if (c.terms) r.values.push_back(terms.grad());
  for (torch::Tensor& v : r.values) {
    if (v.defined()) v = v.cpu();
  }
  return r;
}

void expect_close(const SegmentRun& a, const SegmentRun& b, double tolerance, const std::string& what) {
  const char* names[] = {"outputs", "h", "c", "grad x_gates", "grad h0", "grad c0", "grad weight_hh", "grad terms"};
  ASSERT_EQ(a.values.size(), b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    ASSERT_TRUE(a.values[i].defined() && b.values[i].defined()) << what << ": " << names[i];
    const double diff = (a.values[i] - b.values[i]).abs().max().item<double>();
    EXPECT_LE(diff, tolerance) << what << ": " << names[i] << ": max |diff| " << diff;
  }
}

double tolerance_for(const Case& c) { return c.dtype == torch::kDouble ? 1e-10 : 1e-5; }

TEST_P(Recurrence, FusedMatchesReference) {
  const Case& c = GetParam();
  const SegmentRun fused = run_segment(c, true, 7, 3, 5);
  const SegmentRun reference = run_segment(c, false, 7, 3, 5);
  EXPECT_NE(fused.node.find("LstmSegment"), std::string::npos) << "fused path not taken: " << fused.node;
  expect_close(fused, reference, tolerance_for(c), "fused vs reference");
}

// The CUDA kernels (native/kernels/lstm_pointwise.cu) against the ATen
// reference on the GPU and against the fused CPU path. Sizes past one
// thread block (B H = 9 x 70 > 256) and H not a multiple of the warp.
INSTANTIATE_TEST_SUITE_P(All, Recurrence, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(Recurrence, CudaFusedMatchesReference) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device gpu(torch::kCUDA);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const SegmentRun fused = run_segment(c, true, 6, 9, 70, gpu);
    const SegmentRun reference = run_segment(c, false, 6, 9, 70, gpu);
    const SegmentRun cpu = run_segment(c, true, 6, 9, 70);
#ifdef NRNM_WITH_CUDA
    EXPECT_NE(fused.node.find("LstmSegment"), std::string::npos) << "fused path not taken: " << fused.node;
#endif
    expect_close(fused, reference, tolerance_for(c), "CUDA fused vs CUDA reference");
    expect_close(fused, cpu, tolerance_for(c), "CUDA fused vs CPU fused");
  }
}

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
  compare_models(
      nrnm::NRNMOptions(6, 5).hidden_size(16).layers(1).input_aggregation(nrnm::InputAggregation::kStrided).seed(4),
      torch::kFloat, 1e-5);
}

}  // namespace
