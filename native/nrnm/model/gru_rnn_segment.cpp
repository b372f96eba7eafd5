#include "nrnm/model/gru_rnn_segment.h"

#include <c10/util/Exception.h>

#include <vector>

namespace nrnm {

namespace {

// h_t = zeta h' + (1 - zeta) h_{t-1}, zeta as in SegmentZoneout.
torch::Tensor zoneout_blend(const torch::Tensor& h_new, const torch::Tensor& h, const SegmentZoneout& zoneout,
                            int64_t t) {
  if (zoneout.mask.defined()) {
    const torch::Tensor zeta = zoneout.mask.dim() == 3 ? zoneout.mask[t] : zoneout.mask;  // (1 or B, H)
    return torch::addcmul(h * (1 - zeta), h_new, zeta);
  }
  if (zoneout.keep != 1.0) return torch::add(h_new * zoneout.keep, h, 1 - zoneout.keep);
  return h_new;
}

void check(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
           const torch::Tensor& weight_hh, int64_t gates, const char* what) {
  TORCH_CHECK(h0.dim() == 2, what, ": expected h0 of shape (batch, hidden) but got ", h0.sizes());
  const int64_t B = h0.size(0);
  const int64_t H = h0.size(1);
  TORCH_CHECK(x_gates.dim() == 3 && x_gates.size(1) == B && x_gates.size(2) == gates * H, what,
              ": expected x_gates of shape (steps, ", B, ", ", gates * H, ") but got ", x_gates.sizes());
  TORCH_CHECK(weight_hh.dim() == 2 && weight_hh.size(0) == H && weight_hh.size(1) == gates * H, what,
              ": expected weight_hh of shape [", H, ", ", gates * H, "] but got ", weight_hh.sizes());
  TORCH_CHECK(!terms.defined() || terms.sizes() == torch::IntArrayRef({x_gates.size(0), B, H}), what,
              ": expected terms of shape (", x_gates.size(0), ", ", B, ", ", H, ") but got ", terms.sizes());
}

}  // namespace

SegmentOutput gru_segment(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                          const torch::Tensor& weight_hh, const torch::Tensor& bias_hh, const SegmentZoneout& zoneout) {
  check(x_gates, terms, h0, weight_hh, 3, "gru_segment");
  const int64_t S = x_gates.size(0);
  const int64_t H = h0.size(1);
  torch::Tensor h = h0;  // (B, H)
  std::vector<torch::Tensor> outputs;
  outputs.reserve(S);
  for (int64_t t = 0; t < S; ++t) {
    const torch::Tensor hidden = torch::addmm(bias_hh, h, weight_hh);                             // (B, 3H): [r|z|n]_h
    const torch::Tensor& input = x_gates[t];                                                      // (B, 3H): [r|z|n]_x
    const torch::Tensor rz = (input.narrow(1, 0, 2 * H) + hidden.narrow(1, 0, 2 * H)).sigmoid();  // (B, 2H)
    const torch::Tensor r = rz.narrow(1, 0, H);
    const torch::Tensor z = rz.narrow(1, H, H);
    const torch::Tensor n = torch::tanh(input.narrow(1, 2 * H, H) + r * hidden.narrow(1, 2 * H, H));  // (B, H)
    torch::Tensor h_new = n + z * (h - n);                                                            // (1 - z) n + z h
    if (terms.defined()) h_new = h_new + terms[t];                                                    // + (r m) W_mt
    h = zoneout_blend(h_new, h, zoneout, t);
    outputs.push_back(h);
  }
  return {torch::stack(outputs, 0), h, torch::Tensor()};
}

SegmentOutput rnn_segment(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                          const torch::Tensor& weight_hh, const SegmentZoneout& zoneout) {
  check(x_gates, terms, h0, weight_hh, 1, "rnn_segment");
  const int64_t S = x_gates.size(0);
  torch::Tensor h = h0;  // (B, H)
  std::vector<torch::Tensor> outputs;
  outputs.reserve(S);
  for (int64_t t = 0; t < S; ++t) {
    torch::Tensor h_new = torch::tanh(torch::addmm(x_gates[t], h, weight_hh));  // (B, H)
    if (terms.defined()) h_new = h_new + terms[t];                              // + (r m) W_mt
    h = zoneout_blend(h_new, h, zoneout, t);
    outputs.push_back(h);
  }
  return {torch::stack(outputs, 0), h, torch::Tensor()};
}

}  // namespace nrnm
