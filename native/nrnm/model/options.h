#pragma once

// NRNMOptions: every option of the NRNM classifier (NRNM_SPEC.md, "Options").
// The defaults reproduce the authors' released code (F-Frida/NRNM, codes/
// model.py with cell_type='ORG_MEMO'); each quirk of that code is an option
// whose alternative gives the cleaner model of the papers.

#include "nrnm/runtime/enum_names.h"

#include <torch/arg.h>

#include <array>
#include <utility>

#include <cstdint>

namespace nrnm {

/// How the input vector a_t of a memory update is built from the layer input.
enum class InputAggregation {
  kDilated,  // official: ELU(Dropout(x_{t-5..t-1}, x_p, x_{p+3}, x_t) W_a + b_a)
  kStrided,  // concat(x_{t-s}, x_{t-2s}, ..., x_{t-ns})
};

enum class ZoneoutMode {
  kShared,   // official: one Bernoulli mask (H) per layer and forward call
  kPerStep,  // standard zoneout: a fresh (B, H) mask at every step
};

enum class MemoryDropoutMode {
  kShared,     // official: one (n, H) mask per update, shared by the batch
  kPerSample,  // a (B, n, H) mask per update
};

enum class InitScheme {
  kOfficial,  // every NRNM tensor ~ U(-1/sqrt(H), 1/sqrt(H))
  kStandard,  // LayerNorm 1/0, gate biases 1/0, Linear defaults
};

enum class HeadKind {
  kLinearElu,  // official: logits = ELU(h W_o + b_o)
  kLinear,     // logits = h W_o + b_o
};

/// The recurrent backbone the memory refines (gru_rnn_segment.h).
enum class Backbone {
  kLSTM,  // official: the memory term is added to the cell state c
  kGRU,   // the memory term is added to the new state h' (PyTorch GRU gates)
  kRNN,   // the memory term is added to h' = tanh(x W_ih + h W_hh + b)
};

/// What the network predicts (loss.h computes the matching loss).
enum class Task {
  kClassifySequence,  // official: logits (B, C) at each sequence's last step
  kClassifySteps,     // logits (B, T, C) at every step, cross-entropy per valid step
  kRegressSteps,      // values (B, T, C) at every step, squared error per valid step
};

/// What stands in the memory block where the official code attends.
enum class AttentionKind {
  kSelf,    // official: multi-head self-attention over the n + 1 tokens
  kLinear,  // "NRNM w/o SA" (the papers' ablation): one Linear over the tokens
};

/// The names the user sees ("dilated", "per-step", "linear-elu", ...):
/// to_string, from_string and enum_names (runtime/enum_names.h).
template <>
struct EnumNames<InputAggregation> {
  static constexpr const char* option = "inputAggregation";
  static constexpr std::array<std::pair<InputAggregation, const char*>, 2> table{
      {{InputAggregation::kDilated, "dilated"}, {InputAggregation::kStrided, "strided"}}};
};
template <>
struct EnumNames<ZoneoutMode> {
  static constexpr const char* option = "zoneoutMode";
  static constexpr std::array<std::pair<ZoneoutMode, const char*>, 2> table{
      {{ZoneoutMode::kShared, "shared"}, {ZoneoutMode::kPerStep, "per-step"}}};
};
template <>
struct EnumNames<MemoryDropoutMode> {
  static constexpr const char* option = "memoryDropoutMode";
  static constexpr std::array<std::pair<MemoryDropoutMode, const char*>, 2> table{
      {{MemoryDropoutMode::kShared, "shared"}, {MemoryDropoutMode::kPerSample, "per-sample"}}};
};
template <>
struct EnumNames<InitScheme> {
  static constexpr const char* option = "init";
  static constexpr std::array<std::pair<InitScheme, const char*>, 2> table{
      {{InitScheme::kOfficial, "official"}, {InitScheme::kStandard, "standard"}}};
};
template <>
struct EnumNames<HeadKind> {
  static constexpr const char* option = "head";
  static constexpr std::array<std::pair<HeadKind, const char*>, 2> table{
      {{HeadKind::kLinearElu, "linear-elu"}, {HeadKind::kLinear, "linear"}}};
};
template <>
struct EnumNames<Backbone> {
  static constexpr const char* option = "backbone";
  static constexpr std::array<std::pair<Backbone, const char*>, 3> table{
      {{Backbone::kLSTM, "lstm"}, {Backbone::kGRU, "gru"}, {Backbone::kRNN, "rnn"}}};
};
template <>
struct EnumNames<Task> {
  static constexpr const char* option = "task";
  static constexpr std::array<std::pair<Task, const char*>, 3> table{{{Task::kClassifySequence, "classify-sequence"},
                                                                      {Task::kClassifySteps, "classify-steps"},
                                                                      {Task::kRegressSteps, "regress-steps"}}};
};
template <>
struct EnumNames<AttentionKind> {
  static constexpr const char* option = "attention";
  static constexpr std::array<std::pair<AttentionKind, const char*>, 2> table{
      {{AttentionKind::kSelf, "self"}, {AttentionKind::kLinear, "linear"}}};
};

struct NRNMOptions {
  NRNMOptions(int64_t input_size, int64_t classes);

  /// Features per time step F of the input x (B, T, F) (150 for NTU).
  TORCH_ARG(int64_t, input_size);
  /// Number of classes C.
  TORCH_ARG(int64_t, classes);
  /// H: LSTM and memory width (official 512); divisible by heads.
  TORCH_ARG(int64_t, hidden_size) = 512;
  /// L: stacked NRNM-LSTM layers, each with its own memory (official 2).
  TORCH_ARG(int64_t, layers) = 2;
  /// k: memory update every k steps, looking back k steps (official 10).
  TORCH_ARG(int64_t, block_length) = 10;
  /// s: sampling stride inside a block; n = k / s memory slots (official 5).
  TORCH_ARG(int64_t, stride) = 5;
  /// Attention heads; head size H / heads (official 4, fixed there).
  TORCH_ARG(int64_t, heads) = 4;
  /// Official: dilated (needs k = 10 and s = 5).
  TORCH_ARG(InputAggregation, input_aggregation) = InputAggregation::kDilated;
  /// z: probability that a unit keeps its previous state (official 0.2).
  TORCH_ARG(double, zoneout) = 0.2;
  /// Official: one mask per layer per forward call, shared by batch and steps.
  TORCH_ARG(ZoneoutMode, zoneout_mode) = ZoneoutMode::kShared;
  /// Dropout on the memory carried to the next block (official 0.5).
  TORCH_ARG(double, memory_dropout) = 0.5;
  /// Official: the mask is shared by the batch (LockedDropout).
  TORCH_ARG(MemoryDropoutMode, memory_dropout_mode) = MemoryDropoutMode::kShared;
  /// Dropout on the 8 stacked inputs of the dilated aggregation (official 0.5).
  TORCH_ARG(double, aggregation_dropout) = 0.5;
  /// Official: uniform(-1/sqrt(H), 1/sqrt(H)) for every NRNM tensor.
  TORCH_ARG(InitScheme, init) = InitScheme::kOfficial;
  /// Official: Linear followed by ELU.
  TORCH_ARG(HeadKind, head) = HeadKind::kLinearElu;
  /// Official: the NRNM-LSTM; GRU and RNN are the papers' other backbones.
  TORCH_ARG(Backbone, backbone) = Backbone::kLSTM;
  /// Official: one prediction per sequence, read at its last step.
  TORCH_ARG(Task, task) = Task::kClassifySequence;
  /// Official: self-attention in the memory block; kLinear is the ablation.
  TORCH_ARG(AttentionKind, attention) = AttentionKind::kSelf;
  /// Seeds the model's generator: initialisation and every dropout/zoneout mask.
  TORCH_ARG(uint64_t, seed) = 0;
};

/// Throws c10::Error (TORCH_CHECK) with a message naming the option (in the
/// camelCase of the JavaScript API), what is expected and the value received.
/// The classifier calls it once, before it builds anything.
void validate(const NRNMOptions& options);

/// The rules validate() is made of, each written once; the modules that can
/// be built on their own (NRNMCell, MemoryBlock) assert the rules of their
/// own options with them. Messages as validate()'s.
namespace rules {
/// `value` > 0 ("<name> must be a positive integer (got 0)").
void positive(int64_t value, const char* name);
/// `value` in [0, 1); NaN fails.
void probability(double value, const char* name);
/// k and s positive and s divides k, so that n = k / s slots sample the block.
void block(int64_t block_length, int64_t stride);
/// The official dilated aggregation exists for k = 10, s = 5 only.
void aggregation(InputAggregation aggregation, int64_t block_length, int64_t stride);
/// Both positive and H divisible by heads (head size H / heads).
void heads(int64_t hidden_size, int64_t heads);
}  // namespace rules

}  // namespace nrnm
