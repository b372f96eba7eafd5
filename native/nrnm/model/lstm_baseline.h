#pragma once

// LSTMClassifier: a stacked torch::nn::LSTM (cuDNN on CUDA) with a Linear head
// on the last time step. The performance anchor that the benchmark compares
// NRNM against, and a small model for the trainer's tests. Same contract as
// NRNMClassifier: forward maps x (B, T, F) float to logits (B, C).

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nrnm {

struct LSTMClassifierOptions {
  LSTMClassifierOptions(int64_t input_size, int64_t classes) : input_size_(input_size), classes_(classes) {}
  /// Features per time step F (150 for two NTU skeletons).
  TORCH_ARG(int64_t, input_size);
  /// Number of classes C.
  TORCH_ARG(int64_t, classes);
  /// LSTM width; 512 like NRNM's default so the benchmark compares equals.
  TORCH_ARG(int64_t, hidden_size) = 512;
  /// Stacked LSTM layers; 2 like NRNM's default.
  TORCH_ARG(int64_t, layers) = 2;
};

class LSTMClassifierImpl : public torch::nn::Cloneable<LSTMClassifierImpl> {
 public:
  explicit LSTMClassifierImpl(LSTMClassifierOptions options);

  void reset() override;
  /// x: (B, T, F) -> logits (B, C).
  torch::Tensor forward(const torch::Tensor& x);
  /// Prints `LSTMClassifier(150, 512, layers=2, classes=60)`.
  void pretty_print(std::ostream& stream) const override;

  LSTMClassifierOptions options;
  torch::nn::LSTM lstm{nullptr};    // batch_first, options.layers() layers
  torch::nn::Linear head{nullptr};  // hidden_size -> classes
};

TORCH_MODULE(LSTMClassifier);

}  // namespace nrnm
