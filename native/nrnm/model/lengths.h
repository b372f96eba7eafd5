#pragma once

// Variable-length batches. A batch x (B, T, F) may come with `lengths` (B):
// sequence b has lengths[b] valid steps 0 .. lengths[b]-1 and the rest is
// padding. Steps past a sequence's end change nothing: the network keeps the
// state (zeta = 0 in the zoneout blend), skips the memory update and the
// losses leave them out. Sort-free: the batch is never reordered or packed.

#include <torch/types.h>

#include <cstdint>

namespace nrnm {

/// Checks lengths for a batch of B sequences of T steps: a 1-D integer
/// tensor of B values in [1, T]. Returns them as int64 on the CPU, or an
/// undefined tensor when `lengths` is undefined. `what` names the caller in
/// the message (c10::Error).
torch::Tensor checked_lengths(const torch::Tensor& lengths, int64_t B, int64_t T, const char* what);

/// valid (T, B) of `like`'s dtype and device: 1 where t < lengths[b], else 0.
/// Undefined when lengths is undefined or every sequence fills all T steps,
/// so that full batches take exactly the path they took without lengths.
torch::Tensor valid_steps(const torch::Tensor& lengths, int64_t T, const torch::TensorOptions& like);

}  // namespace nrnm
