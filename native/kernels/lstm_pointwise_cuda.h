#pragma once

// Launchers of the fused pointwise LSTM step on CUDA (lstm_pointwise.cu).
// Plain pointers and an opaque stream, so that this header needs neither the
// CUDA headers nor LibTorch; model/lstm_segment.cpp passes the current ATen stream.
// Each launcher throws std::runtime_error if the launch fails.

#include "nrnm/model/lstm_pointwise.h"

namespace nrnm {
namespace cuda {

/// Activates the gates in place, then c', tanh(c'), h_t and c_t: one thread
/// per element (b, j) of the step.
template <typename T>
void launch_step_forward(const pointwise::StepForward<T>& step, void* stream);

/// One thread per element: pointwise::step_backward_row over one element.
template <typename T>
void launch_step_backward(const pointwise::StepBackward<T>& step, void* stream);

/// Whether this binary holds kernel code GPU `device` can run (machine code
/// for its capability, or PTX to JIT), decided once per device from the
/// compiled architectures and the CUDA runtime's own answer. When not, it
/// says so once on stderr (why, and how to build for that GPU) and the
/// caller takes the reference recurrence instead of failing at launch.
bool fused_kernels_usable(int device);

}  // namespace cuda
}  // namespace nrnm
