#pragma once

// NRNMNetwork: L stacked NRNM-LSTM layers (NRNM_SPEC.md, "Per layer, per
// sequence"). Runs each layer's step loop: the memory schedule (update every
// k steps before the LSTM step), the hidden-token history (the layer's own
// outputs h_{t-s}, ..., h_{t-ns}), zoneout, memory and aggregation dropout.
// Nothing is carried from one forward call to the next.
//
// Masks are drawn on the CPU from the generator given to forward() (the
// classifier's), in this order per layer: zoneout, aggregation dropout,
// memory dropout.

#include "nrnm/nrnm_cell.h"
#include "nrnm/options.h"

#include <ATen/core/Generator.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <vector>

namespace nrnm {

/// What one forward call did, for tests and debugging; filled only when
/// asked for (tensors detached, on the model's device).
struct NRNMTrace {
  struct Update {
    int64_t step = 0;                         // t, the step before whose LSTM step the memory updated
    std::vector<int64_t> hidden_token_steps;  // j of the tokens h_j, newest first
    std::vector<int64_t> input_steps;         // j of the inputs x_j aggregated, in order
    torch::Tensor hidden_tokens;              // (B, n, H)
    torch::Tensor memory_before;              // (B, n, H): M as carried into the update
    torch::Tensor memory_after;               // (B, n, H): M_new, also read as m
    torch::Tensor memory_carried;             // (B, n, H): M_new after memory dropout
  };
  struct Layer {
    std::vector<Update> updates;
    torch::Tensor outputs;       // (T, B, H): h_0 .. h_{T-1} after zoneout
    torch::Tensor zoneout_mask;  // training: (1, H) shared or (T, B, H) per-step
  };
  std::vector<Layer> layers;
};

class NRNMNetworkImpl : public torch::nn::Cloneable<NRNMNetworkImpl> {
 public:
  explicit NRNMNetworkImpl(NRNMOptions options);

  void reset() override;
  void reset_parameters(InitScheme init, at::Generator& generator);

  /// x: (T, B, F) time-major -> outputs of the top layer (T, B, H). In
  /// training the masks are drawn from `generator`; `trace`, when given, is
  /// cleared and filled. `last_h`, when given, receives the top layer's h at
  /// T-1 as its own tensor: equal to outputs[T-1], but its gradient does not
  /// go through a (T, B, H) tensor of zeros and the concatenation.
  /// `valid` (T, B) from valid_steps() (lengths.h), when defined, marks the
  /// steps inside each sequence: at the others the state is kept (zeta = 0)
  /// and the memory is not updated, so h at T-1 is h at the sequence's last
  /// step and the outputs past its end repeat that h.
  torch::Tensor forward(const torch::Tensor& x, at::Generator& generator, NRNMTrace* trace = nullptr,
                        torch::Tensor* last_h = nullptr, const torch::Tensor& valid = {});

  /// Prints `NRNMNetwork(150, 512, layers=2, k=10, s=5, heads=4, dilated)`.
  void pretty_print(std::ostream& stream) const override;

  NRNMOptions options;
  std::vector<NRNMCell> cells;  // registered as cell_0, cell_1, ...

 private:
  /// One layer over its whole input x: (T, B, d) -> (T, B, H).
  torch::Tensor run_layer(NRNMCell& cell, const torch::Tensor& x, at::Generator& generator, NRNMTrace::Layer* trace,
                          torch::Tensor* last_h, const torch::Tensor& valid);
};

TORCH_MODULE(NRNMNetwork);

}  // namespace nrnm
