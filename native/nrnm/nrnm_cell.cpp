#include "nrnm/nrnm_cell.h"

#include "nrnm/random.h"

#include <cmath>

namespace nrnm {

NRNMCellImpl::NRNMCellImpl(NRNMCellOptions options_) : options(std::move(options_)) { reset(); }

int64_t NRNMCellImpl::slots() const { return options.block_length() / options.stride(); }

int64_t NRNMCellImpl::gates() const {
  switch (options.backbone()) {
    case Backbone::kGRU:
      return 3;
    case Backbone::kRNN:
      return 1;
    case Backbone::kLSTM:
      break;
  }
  return 4;
}

void NRNMCellImpl::reset() {
  const int64_t d = options.input_size();
  const int64_t H = options.hidden_size();
  TORCH_CHECK(d > 0 && H > 0 && options.block_length() > 0 && options.stride() > 0,
              "NRNMCell: sizes must be positive (got input ", d, ", hidden ", H, ", blockLength ",
              options.block_length(), ", stride ", options.stride(), ")");
  TORCH_CHECK(options.block_length() % options.stride() == 0, "NRNMCell: stride must divide blockLength (got ",
              options.block_length(), " and ", options.stride(), ")");
  const int64_t nH = slots() * H;

  // Registration order follows the official state_dict.
  const int64_t G = gates() * H;
  weight_ih = register_parameter("weight_ih", torch::empty({d, G}));
  weight_hh = register_parameter("weight_hh", torch::empty({H, G}));
  weight_memh = register_parameter("weight_memh", torch::empty({nH, nH}));
  weight_memt = register_parameter("weight_memt", torch::empty({nH, H}));
  weight_memi = register_parameter("weight_memi", torch::empty({d, nH}));
  bias = register_parameter("bias", torch::empty({G}));
  mem_bias = register_parameter("mem_bias", torch::empty({nH}));
  if (options.backbone() == Backbone::kGRU) {
    bias_hh = register_parameter("bias_hh", torch::empty({G}));
  } else {
    bias_hh = torch::Tensor();
  }
  MC = register_module("MC", MemoryBlock(MemoryBlockOptions(d, H, slots())
                                             .heads(options.heads())
                                             .init(options.init())
                                             .attention(options.attention())));
  if (options.input_aggregation() == InputAggregation::kDilated) {
    aggregation = register_module(DilatedAggregationImpl::official_name(d), DilatedAggregation(d));
  } else {
    aggregation = DilatedAggregation(nullptr);
  }
  reset_parameters();
}

void NRNMCellImpl::reset_parameters() {
  at::Generator generator = make_generator(0);
  reset_parameters(options.init(), generator);
}

void NRNMCellImpl::reset_parameters(InitScheme init, at::Generator& generator) {
  const double bound = 1.0 / std::sqrt(double(options.hidden_size()));
  if (init == InitScheme::kOfficial) {
    // Official: every tensor of the cell, memory block and aggregation too.
    for (auto& parameter : parameters()) {
      uniform_init_(parameter, -bound, bound, generator);
    }
    return;
  }
  for (auto* recurrent :
       {&weight_ih, &weight_hh, &weight_memh, &weight_memt, &weight_memi, &bias, &mem_bias, &bias_hh}) {
    if (!recurrent->defined()) continue;  // bias_hh: GRU only
    uniform_init_(*recurrent, -bound, bound, generator);
  }
  MC->reset_parameters(init, generator);
  if (aggregation) {
    linear_default_init_(aggregation->linear->weight, aggregation->linear->bias, generator);
  }
}

torch::Tensor NRNMCellImpl::input_gates(const torch::Tensor& x) {
  const int64_t T = x.size(0);
  const int64_t B = x.size(1);
  // (T * B, d) x [d, 4H] -> (T, B, 4H)
  return torch::addmm(bias, x.reshape({T * B, x.size(2)}), weight_ih).view({T, B, weight_ih.size(1)});
}

torch::Tensor NRNMCellImpl::memory_input_gates(const torch::Tensor& x) {
  const int64_t T = x.size(0);
  const int64_t B = x.size(1);
  // (T * B, d) x [d, nH] -> (T, B, nH)
  return torch::addmm(mem_bias, x.reshape({T * B, x.size(2)}), weight_memi).view({T, B, weight_memi.size(1)});
}

torch::Tensor NRNMCellImpl::aggregate(const torch::Tensor& u, const torch::Tensor& keep_mask) {
  if (options.input_aggregation() == InputAggregation::kStrided) {
    return u;  // (U, B, n * d)
  }
  return aggregation->forward(u, keep_mask);  // (U, B, 2d)
}

MemoryReadout NRNMCellImpl::read_memory(const torch::Tensor& memory) {
  MemoryReadout readout;
  readout.m = memory.reshape({memory.size(0), -1});  // (B, nH)
  readout.m_hidden = readout.m.mm(weight_memh);      // (B, nH)
  return readout;
}

torch::Tensor NRNMCellImpl::memory_terms(const torch::Tensor& x_memory_gates, const MemoryReadout& memory) {
  const int64_t S = x_memory_gates.size(0);
  const int64_t B = x_memory_gates.size(1);
  const int64_t nH = weight_memt.size(0);
  // r: (S, B, nH), the refinement gate on the memory readout of each step
  const torch::Tensor r = torch::sigmoid(x_memory_gates + memory.m_hidden);
  // (S * B, nH) x [nH, H] -> (S, B, H)
  return (r * memory.m).reshape({S * B, nH}).mm(weight_memt).view({S, B, weight_memt.size(1)});
}

void NRNMCellImpl::pretty_print(std::ostream& stream) const {
  stream << "NRNMCell(" << options.input_size() << ", " << options.hidden_size() << ", k=" << options.block_length()
         << ", s=" << options.stride();
  if (options.backbone() != Backbone::kLSTM) stream << ", " << to_string(options.backbone());
  stream << ")";
}

}  // namespace nrnm
