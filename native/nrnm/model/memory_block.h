#pragma once

// MemoryBlock: one NRNM memory update (NRNM_SPEC.md, step 1; the official
// `MC`, a relational-memory core). From n hidden tokens and one input token
// it attends once over the n + 1 tokens, then gates the result into the
// memory carried from the previous block:
//
//   X  = [hidden tokens..., e]                         (B, n+1, H)
//   Y  = LN_1(X + MultiHead(LN_qkv(X W_qkv + b_qkv)))     attention 'self'
//   Y  = LN_1(X + unvec(vec(X) W_l + b_l))                 attention 'linear'
//   Z  = LN_2(Y + relu(relu(Y W_f + b_f) W_f + b_f))   W_f shared
//   M' = sigmoid(. + b_i) * tanh(Z[:, :n]) + sigmoid(. + b_f) * M
//
// Parameters carry the official names (MC.qkv_projector.weight, ...); the
// shared MLP Linear is registered once, as attention_mlp.0.
//
// Attention 'linear' is the papers' "NRNM w/o SA" ablation: the attention
// is replaced by one Linear W_l [(n+1)H -> (n+1)H] on the sample's tokens
// side by side (registered as linear_transform, instead of qkv_projector
// and qkv_layernorm). It maps the token set to a token set as attention
// does and still mixes the tokens (a per-token Linear would not: the slots
// would never see the input token), so the ablation removes the attention
// mechanism, not the exchange between the tokens.

#include "nrnm/model/options.h"

#include <ATen/core/Generator.h>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nrnm {

struct MemoryBlockOptions {
  MemoryBlockOptions(int64_t input_size, int64_t hidden_size, int64_t slots)
      : input_size_(input_size), hidden_size_(hidden_size), slots_(slots) {}
  /// d: width of one layer input; the aggregated input a_t is n * d wide.
  TORCH_ARG(int64_t, input_size);
  /// H: width of a token and of a memory slot.
  TORCH_ARG(int64_t, hidden_size);
  /// n: memory slots (= hidden tokens per update).
  TORCH_ARG(int64_t, slots);
  /// Attention heads (official 4); H must be divisible by it.
  TORCH_ARG(int64_t, heads) = 4;
  /// Initialisation used by reset() (official: U(-1/sqrt(H), 1/sqrt(H))).
  TORCH_ARG(InitScheme, init) = InitScheme::kOfficial;
  /// Official self-attention, or the linear transform of the ablation.
  TORCH_ARG(AttentionKind, attention) = AttentionKind::kSelf;
};

/// The input side of an update, which depends on the layer input only and
/// can therefore be computed for all the updates of a sequence at once.
struct MemoryInput {
  torch::Tensor token;  // e = a W_p + b_p: (..., H)
  torch::Tensor gate;   // e W_ig + b_ig: (..., 2H)
};

class MemoryBlockImpl : public torch::nn::Cloneable<MemoryBlockImpl> {
 public:
  explicit MemoryBlockImpl(MemoryBlockOptions options);

  void reset() override;
  /// options.init with a generator seeded with 0 (the classifier re-initialises
  /// every parameter from its own generator).
  void reset_parameters();
  void reset_parameters(InitScheme init, at::Generator& generator);

  /// a: (..., n * d) -> e (..., H) and its gate projection (..., 2H).
  MemoryInput project_input(const torch::Tensor& a);

  /// One update from a projected input: input (B, H) / (B, 2H), memory M
  /// (B, n, H) as carried, hidden_tokens (B, n, H) -> M_new (B, n, H).
  torch::Tensor update(const MemoryInput& input, const torch::Tensor& memory, const torch::Tensor& hidden_tokens);

  /// update(project_input(a), memory, hidden_tokens) with a: (B, n * d).
  torch::Tensor forward(const torch::Tensor& a, const torch::Tensor& memory, const torch::Tensor& hidden_tokens);

  /// Prints `MemoryBlock(6, 8, slots=2, heads=4)`.
  void pretty_print(std::ostream& stream) const override;

  MemoryBlockOptions options;

  torch::Tensor forget_bias;                                 // () scalar, added to the forget gate
  torch::Tensor input_bias;                                  // () scalar, added to the input gate
  torch::nn::Linear qkv_projector{nullptr};                  // H -> 3H (attention 'self')
  torch::nn::LayerNorm qkv_layernorm{nullptr};               // over (n+1, 3H) (attention 'self')
  torch::nn::Linear linear_transform{nullptr};               // (n+1)H -> (n+1)H (attention 'linear')
  torch::nn::ModuleList attention_mlp{nullptr};              // [0]: the shared Linear H -> H
  torch::nn::LayerNorm attended_memory_layernorm{nullptr};   // over (n+1, H)
  torch::nn::LayerNorm attended_memory_layernorm2{nullptr};  // over (n+1, H)
  torch::nn::Linear input_projector{nullptr};                // n * d -> H
  torch::nn::Linear input_gate_projector{nullptr};           // H -> 2H
  torch::nn::Linear memory_gate_projector{nullptr};          // H -> 2H

 private:
  /// tokens (B, n+1, H) -> multi-head self-attention (B, n+1, H).
  torch::Tensor attend(const torch::Tensor& tokens);
};

TORCH_MODULE(MemoryBlock);

}  // namespace nrnm
