#pragma once

// The GRU and plain-RNN recurrences of an NRNM layer between two memory
// updates (options.backbone 'gru' and 'rnn'; the LSTM is lstm_segment.h). The
// memory refines the recurrent STATE the way the LSTM variant refines its
// cell: the refinement term_t = (r_t * m) W_mt is added to the new state
// after the backbone's own update, ungated and unsquashed, and zoneout
// blends the result with the old state:
//
//   GRU (PyTorch's gate order r, z, n; x_gates_t = x_t W_ih + b_ih):
//     [r|z|n]_x = x_gates_t,  [r|z|n]_h = h_{t-1} W_hh + b_hh
//     r  = sigmoid(r_x + r_h),  z = sigmoid(z_x + z_h)
//     n  = tanh(n_x + r * n_h)
//     h' = (1 - z) n + z h_{t-1} + term_t
//   RNN (Elman, tanh):
//     h' = tanh(x_gates_t + h_{t-1} W_hh) + term_t
//   both: h_t = zeta h' + (1 - zeta) h_{t-1}
//
// Why there: in the LSTM, c' = f c + i g + term, i.e. the memory writes into
// the state next to the backbone's own (gated) update and not through a gate
// or a squashing nonlinearity, so what the memory holds reaches the state
// even when the gates close, and its gradient never saturates. The GRU's and
// the RNN's state is h itself, so the term is added to h' in the same place:
// after the backbone's update, before zoneout. Without memory (the first k
// steps, term = 0) both are exactly PyTorch's nn.GRU / nn.RNN (tested).
//
// These run as ATen composites under autograd (the reference path): the
// fused hand-written BPTT of lstm_segment.h pays for the LSTM, the official
// and default backbone; GRU and RNN are ablations.

#include "nrnm/model/lstm_segment.h"

#include <torch/types.h>

namespace nrnm {

/// x_gates: (S, B, 3H) x W_ih + b_ih, gate order r, z, n; terms (S, B, H) or
/// undefined; h0: (B, H); weight_hh: [H, 3H]; bias_hh: [3H]. c is unused
/// (the output's c is undefined).
SegmentOutput gru_segment(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                          const torch::Tensor& weight_hh, const torch::Tensor& bias_hh, const SegmentZoneout& zoneout);

/// x_gates: (S, B, H) x W_ih + b; terms (S, B, H) or undefined; h0: (B, H);
/// weight_hh: [H, H].
SegmentOutput rnn_segment(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                          const torch::Tensor& weight_hh, const SegmentZoneout& zoneout);

}  // namespace nrnm
