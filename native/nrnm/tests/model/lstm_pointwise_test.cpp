// The per-element code of nrnm/lstm_pointwise.h, run on the host exactly as
// the CUDA kernels run it (one call per element (b, j), in any order),
// against one LSTM step written with ATen ops and differentiated by
// autograd: forward values and every gradient, for each zoneout form, with
// and without the memory term. On a machine without a GPU this is the check
// of the kernels' arithmetic and indexing; only the launch is left to the
// CUDA test in lstm_segment_test.cpp.

#include "nrnm/model/lstm_pointwise.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace {

using nrnm::pointwise::StepBackward;
using nrnm::pointwise::StepForward;
using nrnm::pointwise::Zeta;

struct Case {
  std::string zoneout;  // none, shared, per_step, eval
  bool term;
  torch::ScalarType dtype;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    for (const char* zoneout : {"none", "shared", "per_step", "eval"}) {
      for (bool term : {false, true}) out.push_back({zoneout, term, dtype});
    }
  }
  return out;
}

std::string name_of(const Case& c) {
  return c.zoneout + (c.term ? "_term" : "") + (c.dtype == torch::kDouble ? "_f64" : "_f32");
}

constexpr int64_t kSteps = 3, kStep = 1, B = 5, H = 7;

template <typename T>
T* ptr(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// Each element visited once, in reverse order, to show that no element
// depends on another having run first (as on a GPU).
template <typename F>
void for_each_element_reversed(F&& body) {
  for (int64_t e = B * H - 1; e >= 0; --e) body(e / H, e % H);
}

template <typename T>
void check_case(const Case& c) {
  torch::manual_seed(11);
  const auto opts = torch::TensorOptions().dtype(c.dtype);
  const torch::Tensor pre = torch::randn({B, 4 * H}, opts) * 2;  // gate pre-activations
  const torch::Tensor c_prev = torch::randn({B, H}, opts);
  const torch::Tensor h_prev = torch::randn({B, H}, opts) * 0.5;
  const torch::Tensor term = c.term ? torch::randn({B, H}, opts) * 0.5 : torch::Tensor();
  torch::Tensor mask;  // zeta as stored: (1, H) or (steps, B, H)
  double keep = 1.0;
  if (c.zoneout == "shared") mask = torch::rand({1, H}, opts).lt(0.6).to(c.dtype);
  if (c.zoneout == "per_step") mask = torch::rand({kSteps, B, H}, opts).lt(0.6).to(c.dtype);
  if (c.zoneout == "eval") keep = 0.8;
  const torch::Tensor dh = torch::randn({B, H}, opts);         // from step t+1
  const torch::Tensor dh_output = torch::randn({B, H}, opts);  // h_t as a segment output
  const torch::Tensor dc = torch::randn({B, H}, opts);

  // Reference: one step in ATen ops under autograd.
  const torch::Tensor pre_r = pre.clone().requires_grad_();
  const torch::Tensor c_prev_r = c_prev.clone().requires_grad_();
  const torch::Tensor h_prev_r = h_prev.clone().requires_grad_();
  const torch::Tensor term_r = c.term ? term.clone().requires_grad_() : torch::Tensor();
  const torch::Tensor f = pre_r.narrow(1, 0, H).sigmoid();
  const torch::Tensor i = pre_r.narrow(1, H, H).sigmoid();
  const torch::Tensor o = pre_r.narrow(1, 2 * H, H).sigmoid();
  const torch::Tensor g = pre_r.narrow(1, 3 * H, H).tanh();
  torch::Tensor c_new = f * c_prev_r + i * g;
  if (c.term) c_new = c_new + term_r;
  const torch::Tensor h_new = o * c_new.tanh();
  torch::Tensor zeta;  // broadcastable to (B, H); undefined: no zoneout
  if (c.zoneout == "shared") zeta = mask;
  if (c.zoneout == "per_step") zeta = mask[kStep];
  if (c.zoneout == "eval") zeta = torch::full({1, H}, keep, opts);
  const torch::Tensor h_ref = zeta.defined() ? zeta * h_new + (1 - zeta) * h_prev_r : h_new;
  const torch::Tensor c_ref = zeta.defined() ? zeta * c_new + (1 - zeta) * c_prev_r : c_new;
  ((h_ref * (dh + dh_output)).sum() + (c_ref * dc).sum()).backward();

  Zeta<T> z;
  z.B = B;
  z.H = H;
  z.keep = static_cast<T>(keep);
  z.active = mask.defined() || keep != 1.0;
  if (mask.defined()) {
    z.mask = ptr<T>(mask);
    z.per_step = mask.dim() == 3;
  }

  // Forward, element by element.
  const torch::Tensor acts = pre.clone();
  const torch::Tensor tanh_c = torch::empty({B, H}, opts);
  const torch::Tensor h_out = torch::empty({B, H}, opts);
  const torch::Tensor c_out = torch::empty({B, H}, opts);
  StepForward<T> fwd;
  fwd.gates = ptr<T>(acts);
  fwd.c_prev = ptr<T>(c_prev);
  fwd.h_prev = ptr<T>(h_prev);
  fwd.term = ptr<T>(term);
  fwd.tanh_c = ptr<T>(tanh_c);
  fwd.h_out = ptr<T>(h_out);
  fwd.c_out = ptr<T>(c_out);
  fwd.zeta = z;
  fwd.t = kStep;
  fwd.B = B;
  fwd.H = H;
  for_each_element_reversed([&](int64_t b, int64_t j) { nrnm::pointwise::step_forward_element(fwd, b, j); });

  // Backward, element by element, from the forward's saved values.
  const torch::Tensor dgates = torch::empty({B, 4 * H}, opts);
  const torch::Tensor dterm = c.term ? torch::empty({B, H}, opts) : torch::Tensor();
  const torch::Tensor dc_prev = torch::empty({B, H}, opts);
  const torch::Tensor dh_prev = torch::empty({B, H}, opts);
  StepBackward<T> bwd;
  bwd.acts = ptr<T>(acts);
  bwd.tanh_c = ptr<T>(tanh_c);
  bwd.c_prev = ptr<T>(c_prev);
  bwd.dh_output = ptr<T>(dh_output);
  bwd.dh = ptr<T>(dh);
  bwd.dc = ptr<T>(dc);
  bwd.dgates = ptr<T>(dgates);
  bwd.dterm = ptr<T>(dterm);
  bwd.dc_prev = ptr<T>(dc_prev);
  bwd.dh_prev = ptr<T>(dh_prev);
  bwd.zeta = z;
  bwd.t = kStep;
  bwd.B = B;
  bwd.H = H;
  for_each_element_reversed([&](int64_t b, int64_t j) { nrnm::pointwise::step_backward_row(bwd, b, j, j + 1); });

  const double tolerance = c.dtype == torch::kDouble ? 1e-12 : 2e-6;
  auto expect_close = [&](const torch::Tensor& got, const torch::Tensor& want, const char* what) {
    const double diff = (got - want.detach()).abs().max().item<double>();
    EXPECT_LE(diff, tolerance) << what << ": max |diff| " << diff;
  };
  expect_close(acts, torch::cat({f, i, o, g}, 1), "activated gates");
  expect_close(tanh_c, c_new.tanh(), "tanh(c')");
  expect_close(h_out, h_ref, "h_t");
  expect_close(c_out, c_ref, "c_t");
  expect_close(dgates, pre_r.grad(), "grad gates");
  expect_close(dc_prev, c_prev_r.grad(), "grad c_prev");
  // h_{t-1} enters this step only through zoneout (W_hh's part is a GEMM).
  expect_close(dh_prev, h_prev_r.grad().defined() ? h_prev_r.grad() : torch::zeros_like(h_prev), "grad h_prev");
  if (c.term) expect_close(dterm, term_r.grad(), "grad term");
}

TEST(LstmPointwise, ElementwiseMatchesAutogradStep) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(name_of(c));
    if (c.dtype == torch::kDouble) {
      check_case<double>(c);
    } else {
      check_case<float>(c);
    }
  }
}

TEST(LstmPointwise, ZetaRows) {
  const float shared[3] = {1, 0, 1};
  Zeta<float> z;
  z.B = 2;
  z.H = 3;
  z.keep = 0.25f;
  EXPECT_EQ(z.row(4, 1), nullptr);
  EXPECT_EQ(z.at(4, 1, 2), 0.25f);
  z.mask = shared;
  EXPECT_EQ(z.row(4, 1), shared);  // shared: the same row for every step and sample
  std::vector<float> per_step(2 * 2 * 3);
  for (size_t k = 0; k < per_step.size(); ++k) per_step[k] = static_cast<float>(k);
  z.mask = per_step.data();
  z.per_step = true;
  EXPECT_EQ(z.at(1, 0, 2), 8.0f);  // (t=1, b=0, j=2) of (2, 2, 3)
  EXPECT_EQ(z.at(1, 1, 0), 9.0f);
}

}  // namespace
