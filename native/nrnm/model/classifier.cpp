#include "nrnm/model/classifier.h"

#include "nrnm/model/lengths.h"
#include "nrnm/model/random.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

namespace nrnm {

NRNMClassifierImpl::NRNMClassifierImpl(NRNMOptions options_) : options(std::move(options_)) { reset(); }

void NRNMClassifierImpl::reset() {
  validate(options);
  // reset() may be called again to rebuild the model from its seed.
  const auto children = named_children();
  for (const char* name : {"rnn", "decoder"}) {
    if (children.contains(name)) unregister_module(name);
  }
  generator = make_generator(options.seed());
  rnn = register_module("rnn", NRNMNetwork(options));
  decoder = torch::nn::Sequential(torch::nn::Linear(options.hidden_size(), options.classes()));
  if (options.head() == HeadKind::kLinearElu) {
    decoder->push_back(torch::nn::ELU());
  }
  decoder = register_module("decoder", decoder);
  reset_parameters();
}

void NRNMClassifierImpl::reset_parameters() {
  rnn->reset_parameters(options.init(), generator);
  // The official head keeps PyTorch's nn.Linear default for both schemes.
  auto linear = decoder->ptr<torch::nn::LinearImpl>(0);
  linear_default_init_(linear->weight, linear->bias, generator);
}

torch::Tensor NRNMClassifierImpl::forward(const torch::Tensor& x, const torch::Tensor& lengths) {
  return run(x, lengths, nullptr);
}

torch::Tensor NRNMClassifierImpl::forward_traced(const torch::Tensor& x, NRNMTrace& trace,
                                                 const torch::Tensor& lengths) {
  return run(x, lengths, &trace);
}

torch::Tensor NRNMClassifierImpl::forward_chunk(const torch::Tensor& x, NRNMStreamState& state) {
  TORCH_CHECK(!is_training(), "NRNMClassifier: a stream runs in evaluation mode only (call eval() first)");
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.input_size() && x.size(0) > 0 && x.size(1) > 0,
              "NRNMClassifier: a stream expects chunks of shape (batch, steps, ", options.input_size(),
              ") with batch and steps > 0 but got ", x.sizes());
  TORCH_CHECK(x.is_floating_point(), "NRNMClassifier expects floating-point x but got ", x.scalar_type());
  TORCH_CHECK(state.layers.empty() || state.layers.front().h.size(0) == x.size(0), "NRNMClassifier: the stream holds ",
              state.layers.empty() ? 0 : state.layers.front().h.size(0), " sequences but the chunk has ", x.size(0));
  const torch::Tensor& weight = rnn->cells.front()->weight_ih;
  const torch::Tensor sequence = x.to(weight.device(), weight.scalar_type()).transpose(0, 1).contiguous();  // (S, B, F)
  // On a copy (tensors are shared, not copied): a chunk that fails leaves
  // the stream where it was.
  NRNMStreamState next = state;
  const torch::Tensor outputs = rnn->forward_chunk(sequence, next);  // (S, B, H)
  torch::Tensor result = decoder->forward(outputs.transpose(0, 1));  // (B, S, C)
  state = std::move(next);
  return result;
}

torch::Tensor NRNMClassifierImpl::run(const torch::Tensor& x, const torch::Tensor& lengths, NRNMTrace* trace) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == options.input_size(), "NRNMClassifier expects x of shape (batch, time, ",
              options.input_size(), ") but got ", x.sizes());
  TORCH_CHECK(x.size(0) > 0 && x.size(1) > 0,
              "NRNMClassifier expects at least one sample and one step but got x of "
              "shape ",
              x.sizes());
  TORCH_CHECK(x.is_floating_point(), "NRNMClassifier expects floating-point x but got ", x.scalar_type());
  const torch::Tensor& weight = rnn->cells.front()->weight_ih;
  // sequence: (T, B, F), time-major for the step loop
  torch::Tensor sequence = x.to(weight.device(), weight.scalar_type()).transpose(0, 1).contiguous();
  const torch::Tensor valid = valid_steps(  // (T, B) or undefined: every step valid
      checked_lengths(lengths, x.size(0), x.size(1), "NRNMClassifier"), x.size(1), weight.options());
  // (B, H): the top layer's h at T-1, which past a sequence's end is the h of
  // its last valid step (the state is kept there): no gather needed.
  torch::Tensor last_h;
  const torch::Tensor outputs = rnn->forward(sequence, generator, trace, &last_h, valid);  // (T, B, H)
  if (options.task() != Task::kClassifySequence) {
    return decoder->forward(outputs.transpose(0, 1));  // (B, T, C): the head at every step
  }
  return decoder->forward(last_h);  // (B, C)
}

std::shared_ptr<torch::nn::Module> NRNMClassifierImpl::clone(const c10::optional<torch::Device>& device) const {
  // The base clone re-runs reset() on the copy, which gives it a fresh
  // generator (the original's is untouched); continue from this one's state.
  auto copy = std::dynamic_pointer_cast<NRNMClassifierImpl>(torch::nn::Cloneable<NRNMClassifierImpl>::clone(device));
  copy->generator = generator.clone();
  return copy;
}

void NRNMClassifierImpl::pretty_print(std::ostream& stream) const {
  stream << "NRNMClassifier(" << options.input_size() << ", " << options.classes()
         << ", hidden=" << options.hidden_size() << ", layers=" << options.layers() << ", k=" << options.block_length()
         << ", s=" << options.stride() << ", heads=" << options.heads() << ", "
         << to_string(options.input_aggregation());
  if (options.backbone() != Backbone::kLSTM) stream << ", " << to_string(options.backbone());
  if (options.task() != Task::kClassifySequence) stream << ", " << to_string(options.task());
  if (options.attention() != AttentionKind::kSelf) stream << ", attention=" << to_string(options.attention());
  stream << ")";
}

}  // namespace nrnm
