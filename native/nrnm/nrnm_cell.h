#pragma once

// NRNMCell: the NRNM-LSTM cell of one layer (NRNM_SPEC.md, steps 1-2): the
// LSTM weights, the memory refinement of the cell state, the memory block
// `MC` and, for the dilated aggregation, its Linear. The cell holds the
// arithmetic; NRNMNetwork runs the schedule (which step updates the memory
// with which tokens) and the masks.
//
// The work that does not depend on the recurrence is split out so the
// network can do it for the whole sequence at once: x W_ih + b and
// x W_mi + b_m (input_gates, memory_input_gates), the aggregation and the
// input side of the memory block (aggregate, MC->project_input), m W_mh
// once per memory update (read_memory), and the memory refinement
// (r * m) W_mt for all the steps between two updates at once (memory_terms:
// m is constant there and r depends on x_t and m only). What is left per
// step is the recurrence of recurrence.h (lstm_segment):
//
//   [f|i|o|g] = (x_t W_ih + b) + h W_hh
//   c' = sigmoid(f) c + sigmoid(i) tanh(g) + term_t
//   h' = sigmoid(o) tanh(c')
//   term_t = (sigmoid((x_t W_mi + b_m) + m W_mh) * m) W_mt

#include "nrnm/aggregation.h"
#include "nrnm/memory_block.h"
#include "nrnm/options.h"

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nrnm {

struct NRNMCellOptions {
  NRNMCellOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  /// d: width of the layer input x_t.
  TORCH_ARG(int64_t, input_size);
  /// H: width of h, c and of a memory slot.
  TORCH_ARG(int64_t, hidden_size);
  /// k: memory update every k steps (official 10).
  TORCH_ARG(int64_t, block_length) = 10;
  /// s: stride of the hidden tokens; n = k / s slots (official 5).
  TORCH_ARG(int64_t, stride) = 5;
  /// Attention heads of the memory block (official 4).
  TORCH_ARG(int64_t, heads) = 4;
  /// Official dilated: registers the aggregation Linear (linear1 or linear2).
  TORCH_ARG(InputAggregation, input_aggregation) = InputAggregation::kDilated;
  /// Initialisation used by reset() (official uniform).
  TORCH_ARG(InitScheme, init) = InitScheme::kOfficial;
  /// The recurrent backbone (official LSTM): its gate count and weights.
  TORCH_ARG(Backbone, backbone) = Backbone::kLSTM;
  /// The memory block's attention (official self-attention).
  TORCH_ARG(AttentionKind, attention) = AttentionKind::kSelf;
};

/// The memory as the LSTM step reads it, refreshed at each memory update.
struct MemoryReadout {
  torch::Tensor m;         // vec(M_new): (B, nH), slot-major, not dropped out
  torch::Tensor m_hidden;  // m W_mh: (B, nH)
};

class NRNMCellImpl : public torch::nn::Cloneable<NRNMCellImpl> {
 public:
  explicit NRNMCellImpl(NRNMCellOptions options);

  void reset() override;
  /// options.init with a generator seeded with 0 (the classifier re-initialises
  /// every parameter from its own generator).
  void reset_parameters();
  void reset_parameters(InitScheme init, at::Generator& generator);

  /// n = k / s.
  int64_t slots() const;
  /// Gate blocks of weight_ih / weight_hh: 4 (LSTM f|i|o|g), 3 (GRU r|z|n), 1 (RNN).
  int64_t gates() const;

  /// x: (T, B, d) -> x W_ih + b: (T, B, gates * H), LSTM gate order f, i, o, g.
  torch::Tensor input_gates(const torch::Tensor& x);
  /// x: (T, B, d) -> x W_mi + b_m: (T, B, nH).
  torch::Tensor memory_input_gates(const torch::Tensor& x);
  /// Stacked inputs u: (U, B, S * d) -> aggregated inputs a: (U, B, n * d).
  /// Dilated (S = 8): ELU(u * keep_mask W_a + b_a); strided (S = n): u.
  torch::Tensor aggregate(const torch::Tensor& u, const torch::Tensor& keep_mask = {});
  /// M_new: (B, n, H) -> m and m W_mh.
  MemoryReadout read_memory(const torch::Tensor& memory);

  /// The memory refinement of the steps between two updates, batched:
  /// x_memory_gates (S, B, nH) from memory_input_gates, `memory` the last
  /// readout -> term_t = (sigmoid(x_memory_gates_t + m W_mh) * m) W_mt:
  /// (S, B, H).
  torch::Tensor memory_terms(const torch::Tensor& x_memory_gates, const MemoryReadout& memory);

  /// Prints `NRNMCell(150, 512, k=10, s=5)`.
  void pretty_print(std::ostream& stream) const override;

  NRNMCellOptions options;

  torch::Tensor weight_ih;    // [d, gates H]: 4H LSTM, 3H GRU, H RNN
  torch::Tensor weight_hh;    // [H, gates H]
  torch::Tensor weight_memh;  // [nH, nH]
  torch::Tensor weight_memt;  // [nH, H]
  torch::Tensor weight_memi;  // [d, nH]
  torch::Tensor bias;         // [gates H]
  torch::Tensor mem_bias;     // [nH]
  torch::Tensor bias_hh;      // [3H], GRU only: b_hh inside r * (h W_hn + b_hn)
  MemoryBlock MC{nullptr};
  /// Dilated only; registered as linear1 (d == 150) or linear2.
  DilatedAggregation aggregation{nullptr};
};

TORCH_MODULE(NRNMCell);

}  // namespace nrnm
