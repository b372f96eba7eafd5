#include "nrnm/model/random.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/empty.h>

#include <cmath>

namespace nrnm {

at::Generator make_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

at::Tensor bernoulli_mask(at::IntArrayRef shape, double keep, at::Generator& generator,
                          const c10::TensorOptions& options) {
  // Uniform draws compared with `keep` give the same mask on every build
  // (bernoulli_ takes an MKL path on some); bool keeps the transfer small.
  at::Tensor draws = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  draws.uniform_(0.0, 1.0, generator);
  return draws.lt(keep).to(options.device()).to(options.dtype());
}

void uniform_init_(at::Tensor tensor, double low, double high, at::Generator& generator) {
  at::NoGradGuard no_grad;
  // Always float32 draws on the CPU (the same stream whatever the target),
  // straight into the tensor when it is a CPU float32 one (the usual case:
  // modules are built on the CPU in float32).
  if (tensor.device().is_cpu() && tensor.scalar_type() == at::kFloat && tensor.is_contiguous()) {
    tensor.uniform_(low, high, generator);
    return;
  }
  at::Tensor draws = at::empty(tensor.sizes(), at::TensorOptions().dtype(at::kFloat));
  draws.uniform_(low, high, generator);
  tensor.copy_(draws);
}

void constant_init_(at::Tensor tensor, double value) {
  at::NoGradGuard no_grad;
  tensor.fill_(value);
}

void linear_default_init_(at::Tensor weight, at::Tensor bias, at::Generator& generator) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight.size(1)));
  uniform_init_(weight, -bound, bound, generator);
  if (bias.defined()) {
    uniform_init_(bias, -bound, bound, generator);
  }
}

}  // namespace nrnm
