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

void NRNMNetworkImpl::pretty_print(std::ostream& stream) const {
  stream << "NRNMNetwork(" << options.input_size() << ", " << options.hidden_size() << ", layers=" << options.layers()
         << ", k=" << options.block_length() << ", s=" << options.stride() << ", heads=" << options.heads() << ", "
         << to_string(options.input_aggregation()) << ")";
}

}  // namespace nrnm
