#pragma once

// Randomness of the model, all drawn on the CPU from one explicit generator
// (never the global one), so that a seed fixes the initialisation and every
// mask whatever the device, and the generator's state can be checkpointed.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>

namespace nrnm {

/// A CPU generator seeded with `seed`.
at::Generator make_generator(uint64_t seed);

/// A {0, 1} mask, each entry 1 with probability `keep`, drawn on the CPU and
/// returned with `options` (dtype and device). Travels to the device as bytes.
at::Tensor bernoulli_mask(at::IntArrayRef shape, double keep, at::Generator& generator,
                          const c10::TensorOptions& options);

/// Overwrites `tensor` (any dtype and device, outside autograd) with
/// U(low, high) drawn on the CPU in float32.
void uniform_init_(at::Tensor tensor, double low, double high, at::Generator& generator);

/// Overwrites `tensor` (outside autograd) with `value`.
void constant_init_(at::Tensor tensor, double value);

/// PyTorch's nn.Linear default, U(-1/sqrt(in), 1/sqrt(in)) for the weight
/// [out, in] and the bias alike (kaiming_uniform_ with a = sqrt(5)).
void linear_default_init_(at::Tensor weight, at::Tensor bias, at::Generator& generator);

}  // namespace nrnm
