#include "nrnm/model/lstm_baseline.h"

#include <tuple>

namespace nrnm {

LSTMClassifierImpl::LSTMClassifierImpl(LSTMClassifierOptions options_) : options(std::move(options_)) { reset(); }

void LSTMClassifierImpl::reset() {
  TORCH_CHECK(options.input_size() > 0, "input_size must be > 0 but got ", options.input_size());
  TORCH_CHECK(options.classes() > 0, "classes must be > 0 but got ", options.classes());
  TORCH_CHECK(options.hidden_size() > 0, "hidden_size must be > 0 but got ", options.hidden_size());
  TORCH_CHECK(options.layers() > 0, "layers must be > 0 but got ", options.layers());
  lstm = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(options.input_size(), options.hidden_size())
                                                     .num_layers(options.layers())
                                                     .batch_first(true)));
  head = register_module("head", torch::nn::Linear(options.hidden_size(), options.classes()));
}

torch::Tensor LSTMClassifierImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.input_size(), "LSTMClassifier expects x of shape (batch, time, ",
              options.input_size(), ") but got ", x.sizes());
  // h_n: (layers, B, H); its last layer is the output at the last step.
  const torch::Tensor h_n = std::get<0>(std::get<1>(lstm->forward(x)));
  return head->forward(h_n[options.layers() - 1]);  // (B, C)
}

void LSTMClassifierImpl::pretty_print(std::ostream& stream) const {
  stream << "LSTMClassifier(" << options.input_size() << ", " << options.hidden_size()
         << ", layers=" << options.layers() << ", classes=" << options.classes() << ")";
}

}  // namespace nrnm
