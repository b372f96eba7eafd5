#pragma once

// NRNMNetwork: L stacked NRNM layers (NRNM_SPEC.md, "Per layer, per
// sequence"), each an NRNMCell with its own memory, the next layer reading
// the outputs h_0 .. h_{T-1} of the one below (no dropout between layers in
// the official code), as LibTorch's LSTMImpl loops over its layers. Nothing
// is carried from one forward call to the next.
//
// In training each cell draws its masks on the CPU from the generator given
// to forward() (the classifier's), layer by layer, in this order per layer:
// zoneout, aggregation dropout, memory dropout.

#include "nrnm/model/cell.h"
#include "nrnm/model/options.h"

#include <ATen/core/Generator.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>
#include <vector>

namespace nrnm {

/// What one forward call did, layer by layer (see NRNMCellTrace).
struct NRNMTrace {
  using Layer = NRNMCellTrace;
  using Update = NRNMCellTrace::Update;
  std::vector<Layer> layers;
};

/// What a stream carries from one chunk to the next, layer by layer (see
/// NRNMCellState). Empty until the first chunk, which sets the batch.
struct NRNMStreamState {
  std::vector<NRNMCellState> layers;
  /// Rows (sequences) of the stream; 0 before the first chunk.
  int64_t batch() const { return layers.empty() ? 0 : layers.front().h.size(0); }
  /// Steps each row has seen since its start (empty before the first chunk).
  std::vector<int64_t> steps() const { return layers.empty() ? std::vector<int64_t>{} : layers.front().steps; }
  /// Every row back to step 0; the next chunk may bring another batch.
  void reset() { layers.clear(); }
  /// `rows` (each in [0, batch)) back to step 0 with the initial state.
  void reset(const std::vector<int64_t>& rows);
};

class NRNMNetworkImpl : public torch::nn::Cloneable<NRNMNetworkImpl> {
 public:
  /// `options` as validate() accepts them (the classifier checks them).
  explicit NRNMNetworkImpl(NRNMOptions options);

  void reset() override;
  void reset_parameters(InitScheme init, at::Generator& generator);

  /// x: (T, B, F) time-major -> outputs of the top layer (T, B, H). In
  /// training the masks are drawn from `generator`; `trace`, when given, is
  /// cleared and filled. `last_h`, when given, receives the top layer's h at
  /// T-1 (NRNMCellForward::last_h). `valid` (T, B) from valid_steps()
  /// (lengths.h), when defined, marks the steps inside each sequence
  /// (NRNMCellForward::valid).
  torch::Tensor forward(const torch::Tensor& x, at::Generator& generator, NRNMTrace* trace = nullptr,
                        torch::Tensor* last_h = nullptr, const torch::Tensor& valid = {});

  /// The next steps of a stream, eval mode: x (S, B, F) -> outputs of the
  /// top layer (S, B, H), advancing `state` (initialised for B sequences
  /// when empty). Equal to forward() over the concatenated chunks.
  torch::Tensor forward_chunk(const torch::Tensor& x, NRNMStreamState& state);

  /// Prints `NRNMNetwork(150, 512, layers=2, k=10, s=5, heads=4, dilated)`.
  void pretty_print(std::ostream& stream) const override;

  NRNMOptions options;
  std::vector<NRNMCell> cells;  // registered as cell_0, cell_1, ...
};

TORCH_MODULE(NRNMNetwork);

}  // namespace nrnm
