#pragma once

// NRNMOptions: every option of the NRNM classifier (NRNM_SPEC.md, "Options").
// The defaults reproduce the authors' released code (F-Frida/NRNM, codes/
// model.py with cell_type='ORG_MEMO'); each quirk of that code is an option
// whose alternative gives the cleaner model of the papers.

#include <torch/arg.h>

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

/// The recurrent backbone the memory refines (backbone_recurrence.h).
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

/// The names the user sees ("dilated", "per-step", "linear-elu", ...).
const char* to_string(InputAggregation value);
const char* to_string(ZoneoutMode value);
const char* to_string(MemoryDropoutMode value);
const char* to_string(InitScheme value);
const char* to_string(HeadKind value);
const char* to_string(Task value);
const char* to_string(Backbone value);
const char* to_string(AttentionKind value);

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
void validate(const NRNMOptions& options);

}  // namespace nrnm
