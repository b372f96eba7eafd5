#include "nrnm/model/network.h"

#include <string>

namespace nrnm {

NRNMNetworkImpl::NRNMNetworkImpl(NRNMOptions options_) : options(std::move(options_)) { reset(); }

void NRNMNetworkImpl::reset() {
  cells.clear();
  for (int64_t layer = 0; layer < options.layers(); ++layer) {
    cells.push_back(
        register_module("cell_" + std::to_string(layer), NRNMCell(NRNMCellOptions::of_layer(options, layer))));
  }
}

void NRNMNetworkImpl::reset_parameters(InitScheme init, at::Generator& generator) {
  for (auto& cell : cells) {
    cell->reset_parameters(init, generator);
  }
}

torch::Tensor NRNMNetworkImpl::forward(const torch::Tensor& x, at::Generator& generator, NRNMTrace* trace,
                                       torch::Tensor* last_h, const torch::Tensor& valid) {
  if (trace != nullptr) trace->layers.assign(cells.size(), NRNMTrace::Layer());
  torch::Tensor sequence = x;  // (T, B, d) of the current layer
  for (size_t layer = 0; layer < cells.size(); ++layer) {
    NRNMCellForward with;
    with.generator = &generator;
    with.valid = valid;
    with.trace = trace != nullptr ? &trace->layers[layer] : nullptr;
    with.last_h = layer + 1 == cells.size() ? last_h : nullptr;
    sequence = cells[layer]->forward(sequence, with);
  }
  return sequence;  // (T, B, H)
}

void NRNMStreamState::reset(const std::vector<int64_t>& rows) {
  for (NRNMCellState& layer : layers) layer.reset_rows(rows);
}

torch::Tensor NRNMNetworkImpl::forward_chunk(const torch::Tensor& x, NRNMStreamState& state) {
  if (state.layers.empty()) {
    for (auto& cell : cells) state.layers.push_back(cell->initial_state(x.size(1)));
  }
  TORCH_CHECK(state.layers.size() == cells.size(), "NRNMNetwork: the stream state has ", state.layers.size(),
              " layers but the network ", cells.size());
  torch::Tensor sequence = x;  // (S, B, d) of the current layer
  for (size_t layer = 0; layer < cells.size(); ++layer) {
    sequence = cells[layer]->forward_chunk(sequence, state.layers[layer]);
  }
  return sequence;  // (S, B, H)
}

void NRNMNetworkImpl::pretty_print(std::ostream& stream) const {
  stream << "NRNMNetwork(" << options.input_size() << ", " << options.hidden_size() << ", layers=" << options.layers()
         << ", k=" << options.block_length() << ", s=" << options.stride() << ", heads=" << options.heads() << ", "
         << to_string(options.input_aggregation()) << ")";
}

}  // namespace nrnm
