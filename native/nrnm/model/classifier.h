#pragma once

// NRNMClassifier: the NRNM network and its classifier head on the last step
// (NRNM_SPEC.md, "Classifier"): logits = ELU(h^{top}_{T-1} W_o + b_o), the
// official MyRNNModel with cell_type='ORG_MEMO'.
//
// named_parameters() yields exactly the official state_dict names
// (rnn.cell_0.weight_ih, ..., rnn.cell_0.MC.attention_mlp.0.weight, ...,
// rnn.cell_0.linear2.1.weight, decoder.0.weight, decoder.0.bias) less the
// official tensors the model never uses (MC.easy_projector.*, the alias
// MC.attention_mlp.1.* and the other aggregation Linear).
//
// All randomness (initialisation, zoneout, memory and aggregation dropout
// masks) comes from `generator`, a CPU generator seeded with options.seed():
// the same seed gives the same initial weights and the same training-mode
// outputs, on any device and in float32 or float64.

#include "nrnm/model/network.h"
#include "nrnm/model/options.h"

#include <ATen/core/Generator.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/common.h>
#include <torch/nn/modules/container/any_module_holder.h>
#include <torch/nn/modules/container/any_value.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <memory>
#include <ostream>

namespace nrnm {

class NRNMClassifierImpl : public torch::nn::Cloneable<NRNMClassifierImpl> {
 public:
  /// Validates the options (c10::Error with the option's name on failure).
  explicit NRNMClassifierImpl(NRNMOptions options);

  /// Rebuilds the modules and re-seeds the generator with options.seed(),
  /// then reset_parameters(); may be called again (after changing options).
  void reset() override;
  /// Initialises every parameter per options.init(), drawing from `generator`.
  void reset_parameters();

  /// x: (B, T, F) -> logits (B, C), or (B, T, C) at every step for the
  /// per-step tasks (options.task). x is moved to the parameters' device and
  /// dtype. Training mode draws masks from `generator`. `lengths` (B)
  /// integer, when given, holds each sequence's valid steps in [1, T]
  /// (lengths.h): the logits are read at each sequence's last valid step;
  /// per-step outputs past a sequence's end repeat its last valid step's.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& lengths = {});
  /// forward() that also fills `trace` (see NRNMTrace).
  torch::Tensor forward_traced(const torch::Tensor& x, NRNMTrace& trace, const torch::Tensor& lengths = {});

  /// The next steps of a stream of sequences, eval mode only: x (B, S, F),
  /// S >= 1 -> the head at each of those steps (B, S, C), for every task:
  /// for classify-sequence, the logits a sequence ending at that step gets.
  /// `state` starts empty (a fresh stream; the first chunk sets B) and is
  /// advanced. Chunks of any sizes give, within float rounding, what
  /// forward() gives on the whole sequence: its per-step outputs, and for
  /// classify-sequence its logits at the last step.
  torch::Tensor forward_chunk(const torch::Tensor& x, NRNMStreamState& state);

  /// A deep copy whose generator continues from this one's state without
  /// sharing it.
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<torch::Device>& device = c10::nullopt) const override;

  /// Prints `NRNMClassifier(150, 60, hidden=512, layers=2, k=10, s=5, heads=4, dilated)`.
  void pretty_print(std::ostream& stream) const override;

  NRNMOptions options;
  at::Generator generator;
  NRNMNetwork rnn{nullptr};
  /// [0]: Linear H -> C; [1]: ELU for head linear-elu.
  torch::nn::Sequential decoder{nullptr};

 private:
  torch::Tensor run(const torch::Tensor& x, const torch::Tensor& lengths, NRNMTrace* trace);

 protected:
  // torch::nn::AnyModule (the Trainer) may call forward(x) alone.
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(torch::Tensor())})
};

TORCH_MODULE(NRNMClassifier);

}  // namespace nrnm
