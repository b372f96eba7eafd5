#pragma once

// The LSTM recurrence of one NRNM layer between two memory updates (a
// segment of at most k steps), with zoneout (NRNM_SPEC.md step 2):
//
//   [f|i|o|g] = x_gates_t + h_{t-1} W_hh          (x_gates_t = x_t W_ih + b)
//   c'  = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g) + term_t
//   h'  = sigmoid(o) tanh(c')
//   h_t = zeta h' + (1 - zeta) h_{t-1},  c_t = zeta c' + (1 - zeta) c_{t-1}
//
// term_t = (r_t * m) W_mt is the memory refinement; inside a segment m is
// constant, so the network computes it for all the segment's steps at once.
//
// Two implementations, equal within float rounding:
//  - fused (float32/float64, autocast off; CPU, and CUDA when built against
//    a CUDA LibTorch): one autograd node per segment; the forward writes
//    into preallocated (S, B, .) buffers and the backward is hand-written
//    BPTT. Per step: one GEMM (h_{t-1} W_hh forward, dgates W_hh^T backward)
//    and the pointwise part of nrnm/lstm_pointwise.h, as loops on the CPU or
//    one kernel on CUDA (native/kernels/lstm_pointwise.cu); the weight
//    gradient of W_hh is ONE GEMM over the segment;
//  - reference: the per-step ATen composite under autograd (autocast, other
//    dtypes, and the tests).

#include <torch/types.h>

namespace nrnm {

struct SegmentZoneout {
  /// Training: zeta as a {0,1} mask, (1, H) shared by steps and samples or
  /// (S, B, H) per step. Undefined: the scalar `keep` below.
  torch::Tensor mask;
  /// Eval: zeta = 1 - zoneout; 1 (or no mask and keep 1): no zoneout.
  double keep = 1.0;
};

struct SegmentOutput {
  torch::Tensor outputs;  // (S, B, H): h_t of the S steps, after zoneout
  torch::Tensor h;        // (B, H): the last h_t (its own tensor, for the next segment)
  torch::Tensor c;        // (B, H): the last c_t
};

/// x_gates: (S, B, 4H) gate order f, i, o, g; terms: (S, B, H) or undefined
/// (no memory yet: the term is exactly 0); h0, c0: (B, H); weight_hh: [H, 4H].
SegmentOutput lstm_segment(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                           const torch::Tensor& c0, const torch::Tensor& weight_hh, const SegmentZoneout& zoneout);

/// The per-step ATen composite that lstm_segment falls back to.
SegmentOutput lstm_segment_reference(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                                     const torch::Tensor& c0, const torch::Tensor& weight_hh,
                                     const SegmentZoneout& zoneout);

/// Whether lstm_segment may take the fused path (default true, or false when
/// the environment has NRNM_RECURRENCE=reference at load). Tests switch it
/// off to run whole models on the reference path.
void set_fused_recurrence(bool enabled);

}  // namespace nrnm
