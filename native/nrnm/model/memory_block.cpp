#include "nrnm/model/memory_block.h"

#include "nrnm/model/random.h"

#include <cmath>

namespace nrnm {

MemoryBlockImpl::MemoryBlockImpl(MemoryBlockOptions options_) : options(std::move(options_)) { reset(); }

void MemoryBlockImpl::reset() {
  const int64_t d = options.input_size();
  const int64_t H = options.hidden_size();
  const int64_t n = options.slots();
  rules::positive(d, "inputSize");
  rules::positive(n, "slots");
  rules::heads(H, options.heads());
  const int64_t N = n + 1;  // n hidden tokens and the input token

  // Registration order follows the official state_dict.
  forget_bias = register_parameter("forget_bias", torch::empty({}));
  input_bias = register_parameter("input_bias", torch::empty({}));
  if (options.attention() == AttentionKind::kSelf) {
    qkv_projector = register_module("qkv_projector", torch::nn::Linear(H, 3 * H));
    qkv_layernorm =
        register_module("qkv_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({N, 3 * H}).eps(1e-5)));
  } else {
    linear_transform = register_module("linear_transform", torch::nn::Linear(N * H, N * H));
  }
  // The official ModuleList holds the same Linear twice; registered once.
  attention_mlp = register_module("attention_mlp", torch::nn::ModuleList(torch::nn::Linear(H, H)));
  attended_memory_layernorm =
      register_module("attended_memory_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({N, H}).eps(1e-5)));
  attended_memory_layernorm2 = register_module("attended_memory_layernorm2",
                                               torch::nn::LayerNorm(torch::nn::LayerNormOptions({N, H}).eps(1e-5)));
  input_projector = register_module("input_projector", torch::nn::Linear(n * d, H));
  input_gate_projector = register_module("input_gate_projector", torch::nn::Linear(H, 2 * H));
  memory_gate_projector = register_module("memory_gate_projector", torch::nn::Linear(H, 2 * H));
  reset_parameters();
}

void MemoryBlockImpl::reset_parameters() {
  at::Generator generator = make_generator(0);
  reset_parameters(options.init(), generator);
}

void MemoryBlockImpl::reset_parameters(InitScheme init, at::Generator& generator) {
  if (init == InitScheme::kOfficial) {
    // Official: every tensor, LayerNorms and gate biases included.
    const double bound = 1.0 / std::sqrt(double(options.hidden_size()));
    for (auto& parameter : parameters()) {
      uniform_init_(parameter, -bound, bound, generator);
    }
    return;
  }
  constant_init_(forget_bias, 1.0);
  constant_init_(input_bias, 0.0);
  for (const torch::nn::LayerNorm& norm : {qkv_layernorm, attended_memory_layernorm, attended_memory_layernorm2}) {
    if (!norm) continue;  // qkv_layernorm: attention 'self' only
    constant_init_(norm->weight, 1.0);
    constant_init_(norm->bias, 0.0);
  }
  auto mlp = attention_mlp->ptr<torch::nn::LinearImpl>(0);
  torch::nn::LinearImpl* mixer = qkv_projector ? qkv_projector.get() : linear_transform.get();
  for (auto* linear :
       {mixer, mlp.get(), input_projector.get(), input_gate_projector.get(), memory_gate_projector.get()}) {
    linear_default_init_(linear->weight, linear->bias, generator);
  }
}

MemoryInput MemoryBlockImpl::project_input(const torch::Tensor& a) {
  TORCH_CHECK(a.size(-1) == options.slots() * options.input_size(),
              "MemoryBlock: expected an aggregated input of width ", options.slots() * options.input_size(),
              " but got shape ", a.sizes());
  MemoryInput input;
  input.token = input_projector->forward(a);                // (..., H)
  input.gate = input_gate_projector->forward(input.token);  // (..., 2H)
  return input;
}

torch::Tensor MemoryBlockImpl::attend(const torch::Tensor& tokens) {
  const int64_t B = tokens.size(0);
  const int64_t N = tokens.size(1);
  const int64_t H = options.hidden_size();
  if (linear_transform) {
    // Ablation: (B, N H) W_l + b_l -> (B, N, H)
    return linear_transform->forward(tokens.reshape({B, N * H})).view({B, N, H});
  }
  const int64_t heads = options.heads();
  const int64_t hs = H / heads;
  // qkv: (B, N, 3H), normalised over each sample's whole (N, 3H) slab.
  torch::Tensor qkv = qkv_layernorm->forward(qkv_projector->forward(tokens));
  // Head j owns features [3 hs j, 3 hs (j+1)), split q | k | v.
  qkv = qkv.view({B, N, heads, 3 * hs}).permute({0, 2, 1, 3});  // (B, heads, N, 3hs)
  auto qkv_parts = qkv.split(hs, -1);
  const torch::Tensor q = qkv_parts[0] * (1.0 / std::sqrt(double(hs)));       // (B, heads, N, hs)
  const torch::Tensor& k = qkv_parts[1];                                      // (B, heads, N, hs)
  const torch::Tensor& v = qkv_parts[2];                                      // (B, heads, N, hs)
  torch::Tensor weights = torch::matmul(q, k.transpose(-2, -1)).softmax(-1);  // (B, heads, N, N)
  torch::Tensor attended = torch::matmul(weights, v);                         // (B, heads, N, hs)
  return attended.permute({0, 2, 1, 3}).reshape({B, N, H});                   // (B, N, H), no output projection
}

torch::Tensor MemoryBlockImpl::update(const MemoryInput& input, const torch::Tensor& memory,
                                      const torch::Tensor& hidden_tokens) {
  const int64_t n = options.slots();
  const int64_t H = options.hidden_size();
  TORCH_CHECK(memory.dim() == 3 && memory.size(1) == n && memory.size(2) == H,
              "MemoryBlock: expected memory of shape (batch, ", n, ", ", H, ") but got ", memory.sizes());
  TORCH_CHECK(hidden_tokens.sizes() == memory.sizes(), "MemoryBlock: expected hidden tokens of shape ", memory.sizes(),
              " but got ", hidden_tokens.sizes());
  TORCH_CHECK(input.token.dim() == 2 && input.token.size(0) == memory.size(0),
              "MemoryBlock: expected an input token of shape (", memory.size(0), ", ", H, ") but got ",
              input.token.sizes());

  // tokens: (B, n+1, H), the input token last.
  torch::Tensor tokens = torch::cat({hidden_tokens, input.token.unsqueeze(1)}, 1);
  auto mlp = attention_mlp->ptr<torch::nn::LinearImpl>(0);
  // y, z: (B, n+1, H)
  torch::Tensor y = attended_memory_layernorm->forward(tokens + attend(tokens));
  torch::Tensor mlp_out = torch::relu(mlp->forward(torch::relu(mlp->forward(y))));
  torch::Tensor z = attended_memory_layernorm2->forward(y + mlp_out);
  torch::Tensor candidate = z.narrow(1, 0, n);  // (B, n, H): input token dropped

  // gates: (B, n, 2H) = e W_ig + b_ig (broadcast over slots) + tanh(M) W_mg + b_mg
  torch::Tensor gates = memory_gate_projector->forward(torch::tanh(memory)) + input.gate.unsqueeze(1);
  auto gate_parts = gates.chunk(2, -1);
  torch::Tensor input_gate = torch::sigmoid(gate_parts[0] + input_bias);    // (B, n, H)
  torch::Tensor forget_gate = torch::sigmoid(gate_parts[1] + forget_bias);  // (B, n, H)
  return input_gate * torch::tanh(candidate) + forget_gate * memory;        // (B, n, H)
}

torch::Tensor MemoryBlockImpl::forward(const torch::Tensor& a, const torch::Tensor& memory,
                                       const torch::Tensor& hidden_tokens) {
  return update(project_input(a), memory, hidden_tokens);
}

void MemoryBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "MemoryBlock(" << options.input_size() << ", " << options.hidden_size() << ", slots=" << options.slots()
         << ", heads=" << options.heads();
  if (options.attention() == AttentionKind::kLinear) stream << ", attention=linear";
  stream << ")";
}

}  // namespace nrnm
