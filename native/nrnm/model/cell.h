#pragma once

// NRNMCell: one NRNM layer (NRNM_SPEC.md, "Per layer, per sequence"): the
// backbone's weights (LSTM, GRU or RNN), the memory refinement of its state,
// the memory block `MC` and, for the dilated aggregation, its Linear; and
// its forward over a whole sequence: the schedule (the memory updates every
// k steps before the step, with the layer's own outputs as hidden tokens),
// zoneout, memory and aggregation dropout.
//
// The forward does first, for all steps at once, what does not depend on
// the recurrence: x W_ih + b and x W_mi + b_m (input_gates,
// memory_input_gates), the aggregation and the input side of the memory
// block (aggregate, MC->project_input). Then, one segment of at most k steps
// at a time: the memory update at the segment's start, m W_mh once for the
// segment (read_memory), the refinement (r * m) W_mt of all its steps at
// once (memory_terms: m is constant there and r depends on x_t and m only),
// and the backbone's recurrence over the segment (lstm_segment.h,
// gru_rnn_segment.h):
//
//   [f|i|o|g] = (x_t W_ih + b) + h W_hh
//   c' = sigmoid(f) c + sigmoid(i) tanh(g) + term_t
//   h' = sigmoid(o) tanh(c')
//   term_t = (sigmoid((x_t W_mi + b_m) + m W_mh) * m) W_mt

#include "nrnm/model/aggregation.h"
#include "nrnm/model/lstm_segment.h"
#include "nrnm/model/memory_block.h"
#include "nrnm/model/options.h"

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <vector>

namespace nrnm {

struct NRNMCellOptions {
  NRNMCellOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  /// The options of layer `layer` of a network with `options`.
  static NRNMCellOptions of_layer(const NRNMOptions& options, int64_t layer);

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
  /// z: probability that a unit keeps its previous state (official 0.2).
  TORCH_ARG(double, zoneout) = 0.2;
  /// Official: one mask per forward call, shared by batch and steps.
  TORCH_ARG(ZoneoutMode, zoneout_mode) = ZoneoutMode::kShared;
  /// Dropout on the memory carried to the next block (official 0.5).
  TORCH_ARG(double, memory_dropout) = 0.5;
  /// Official: the mask is shared by the batch.
  TORCH_ARG(MemoryDropoutMode, memory_dropout_mode) = MemoryDropoutMode::kShared;
  /// Dropout on the stacked inputs of the dilated aggregation (official 0.5).
  TORCH_ARG(double, aggregation_dropout) = 0.5;
};

/// The memory as the steps of one segment read it, refreshed at each update.
struct MemoryReadout {
  torch::Tensor m;         // vec(M_new): (B, nH), slot-major, not dropped out
  torch::Tensor m_hidden;  // m W_mh: (B, nH)
};

/// What one forward call of a cell did, for tests and debugging; filled only
/// when asked for (tensors detached, on the model's device).
struct NRNMCellTrace {
  struct Update {
    int64_t step = 0;                         // t, the step before whose LSTM step the memory updated
    std::vector<int64_t> hidden_token_steps;  // j of the tokens h_j, newest first
    std::vector<int64_t> input_steps;         // j of the inputs x_j aggregated, in order
    torch::Tensor hidden_tokens;              // (B, n, H)
    torch::Tensor memory_before;              // (B, n, H): M as carried into the update
    torch::Tensor memory_after;               // (B, n, H): M_new, also read as m
    torch::Tensor memory_carried;             // (B, n, H): M_new after memory dropout
  };
  std::vector<Update> updates;
  torch::Tensor outputs;       // (T, B, H): h_0 .. h_{T-1} after zoneout
  torch::Tensor zoneout_mask;  // training: (1, H) shared or (T, B, H) per-step
};

/// What a forward call may pass in and get back besides x and the outputs.
struct NRNMCellForward {
  /// Training: masks are drawn from it (zoneout, aggregation dropout, memory
  /// dropout, in this order). Must be set in training mode.
  at::Generator* generator = nullptr;
  /// (T, B) from valid_steps() (lengths.h), when defined: at the steps
  /// outside a sequence the state is kept (zeta = 0) and the memory is not
  /// updated, so h at T-1 is h at the sequence's last step and the outputs
  /// past its end repeat that h. x there may hold anything, NaN and Inf
  /// included: it changes no output and no gradient, exactly.
  torch::Tensor valid;
  /// When given, cleared and filled.
  NRNMCellTrace* trace = nullptr;
  /// When given, receives h at T-1 as its own tensor: equal to outputs[T-1],
  /// but its gradient does not go through a (T, B, H) tensor of zeros and
  /// the concatenation.
  torch::Tensor* last_h = nullptr;
};

/// Gate blocks of weight_ih / weight_hh for a backbone: 4 (LSTM f|i|o|g),
/// 3 (GRU r|z|n), 1 (RNN).
int64_t backbone_gates(Backbone backbone);

/// What a stream of chunks (forward_chunk, eval mode) carries for one layer
/// from one chunk to the next: the recurrent state, the memory, and the
/// recent inputs and outputs the next memory update reads. Each row (batch
/// sequence) has its own step count, so one row can start over (reset_rows)
/// while the others go on: its memory then updates on its own schedule.
struct NRNMCellState {
  std::vector<int64_t> steps;  // per row: t of its next step, the steps it has seen
  torch::Tensor h;             // (B, H)
  torch::Tensor c;             // (B, H): LSTM only, zeros and unused otherwise
  torch::Tensor memory;        // (B, n, H): M as carried (eval: M_new of the row's last update, or 0)
  MemoryReadout readout;       // m and m W_mh of `memory`; undefined until some row's first update
  torch::Tensor inputs;        // (W, B, d): x_{t-W} .. x_{t-1} per row, 0 before its step 0 (W: input_window)
  torch::Tensor outputs;       // (k, B, H): h_{t-k} .. h_{t-1} per row, 0 before its step 0

  /// Puts `rows` back at step 0 with the initial (zero) state; the other rows
  /// keep theirs. Tensors are replaced, never written in place.
  void reset_rows(const std::vector<int64_t>& rows);
};

class NRNMCellImpl : public torch::nn::Cloneable<NRNMCellImpl> {
 public:
  explicit NRNMCellImpl(NRNMCellOptions options);

  void reset() override;
  /// options.init with a generator seeded with 0 (the classifier re-initialises
  /// every parameter from its own generator).
  void reset_parameters();
  void reset_parameters(InitScheme init, at::Generator& generator);

  /// The layer over its whole input: x (T, B, d) -> outputs h_0 .. h_{T-1}
  /// (T, B, H), from a zero state and memory.
  torch::Tensor forward(const torch::Tensor& x, const NRNMCellForward& with = {});

  /// The state before step 0 of a stream of `batch` sequences (zeros), on the
  /// parameters' device and dtype.
  NRNMCellState initial_state(int64_t batch);
  /// The next steps of a stream, eval mode only: x (S, B, d), S >= 1 ->
  /// their outputs (S, B, H), advancing `state`. Chunks of any sizes give
  /// the outputs forward() gives on their concatenation (within float
  /// rounding): the memory updates at the same steps from the same inputs.
  torch::Tensor forward_chunk(const torch::Tensor& x, NRNMCellState& state);

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

  /// The backbone's recurrence over steps that read one memory: x_gates (S,
  /// B, gates H) from input_gates, terms (S, B, H) or undefined, from h and
  /// c (c: LSTM only).
  SegmentOutput recurrence(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h,
                           const torch::Tensor& c, const SegmentZoneout& zoneout);

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
