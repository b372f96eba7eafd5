#pragma once

// The pointwise part of one LSTM step of an NRNM layer (NRNM_SPEC.md step 2),
// one element (b, j) at a time, forward and backward. Header-only and free of
// LibTorch so that the CPU loops (model/lstm_segment.cpp) and the CUDA kernels
// (native/kernels/lstm_pointwise.cu) run the same arithmetic: the CPU tests
// against the ATen reference check the formulas the GPU uses.
//
//   c' = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g) + term
//   h' = sigmoid(o) tanh(c')
//   h_t = zeta h' + (1 - zeta) h_{t-1},  c_t = zeta c' + (1 - zeta) c_{t-1}

#include <math.h>

#include <cstdint>

#if defined(__CUDACC__)
#define NRNM_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define NRNM_HOST_DEVICE inline
#endif

namespace nrnm {
namespace pointwise {

/// zeta of element (t, b, j): the shared (1, H) mask, the per-step (S, B, H)
/// mask or the scalar keep. `mask` points into host or device memory,
/// wherever the step runs.
template <typename T>
struct Zeta {
  const T* mask = nullptr;  // null: the scalar keep
  bool per_step = false;
  T keep = 1;
  int64_t B = 0, H = 0;
  bool active = false;  // false: no zoneout at all (h_t = h', c_t = c')

  /// The H mask values of row b at step t; null: every element is `keep`.
  NRNM_HOST_DEVICE const T* row(int64_t t, int64_t b) const {
    if (mask == nullptr) return nullptr;
    return per_step ? mask + (t * B + b) * H : mask;
  }

  NRNM_HOST_DEVICE T at(int64_t t, int64_t b, int64_t j) const {
    const T* r = row(t, b);
    return r != nullptr ? r[j] : keep;
  }
};

// C math overloads that exist on the host and on the device alike.
NRNM_HOST_DEVICE float exp_of(float x) { return ::expf(x); }
NRNM_HOST_DEVICE double exp_of(double x) { return ::exp(x); }
NRNM_HOST_DEVICE float tanh_of(float x) { return ::tanhf(x); }
NRNM_HOST_DEVICE double tanh_of(double x) { return ::tanh(x); }

template <typename T>
NRNM_HOST_DEVICE T sigmoid_of(T x) {
  return T(1) / (T(1) + exp_of(-x));
}

/// c' from the activated gates; `term` is 0 before the first memory update.
template <typename T>
NRNM_HOST_DEVICE T cell_state(T f, T i, T g, T c_prev, T term) {
  return f * c_prev + i * g + term;
}

/// h_t and c_t from o, tanh(c') and c' (zoneout against h_{t-1}, c_{t-1}).
template <typename T>
NRNM_HOST_DEVICE void zoneout_output(T o, T tanh_c, T c_new, T h_prev, T c_prev, T z, bool active, T& h_out, T& c_out) {
  if (!active) {
    h_out = o * tanh_c;
    c_out = c_new;
    return;
  }
  const T rest = T(1) - z;
  h_out = h_prev * rest + (o * tanh_c) * z;
  c_out = c_prev * rest + c_new * z;
}

/// Gradients of one element of one step.
template <typename T>
struct StepGrads {
  T f, i, o, g;  // w.r.t. the gate pre-activations
  T term;        // w.r.t. the memory term (= w.r.t. c')
  T c_prev;      // w.r.t. c_{t-1}
  T h_prev;      // w.r.t. h_{t-1} through zoneout only (W_hh's part is a GEMM)
};

/// Backward of one element: f, i, o, g are the activated gates, dh and dc
/// the gradients of h_t and c_t.
template <typename T>
NRNM_HOST_DEVICE StepGrads<T> step_backward(T f, T i, T o, T g, T tanh_c, T c_prev, T dh, T dc, T z, bool active) {
  T dh_new = dh, dc_new = dc, dh_keep = 0, dc_keep = 0;
  if (active) {
    const T rest = T(1) - z;
    dh_new = dh * z;
    dc_new = dc * z;
    dh_keep = dh * rest;
    dc_keep = dc * rest;
  }
  const T d_o = dh_new * tanh_c;
  dc_new += dh_new * o * (T(1) - tanh_c * tanh_c);
  StepGrads<T> grads;
  grads.f = dc_new * c_prev * f * (T(1) - f);
  grads.i = dc_new * g * i * (T(1) - i);
  grads.o = d_o * o * (T(1) - o);
  grads.g = dc_new * i * (T(1) - g * g);
  grads.term = dc_new;
  grads.c_prev = dc_new * f + dc_keep;
  grads.h_prev = dh_keep;
  return grads;
}

/// The buffers of one step, row-major (B, H) unless noted; what one call of
/// the CPU loop or one CUDA launch works on.
template <typename T>
struct StepForward {
  T* gates = nullptr;  // (B, 4H) f|i|o|g: pre-activations in, activations out
  const T* c_prev = nullptr;
  const T* h_prev = nullptr;
  const T* term = nullptr;  // null: no memory term yet
  T* tanh_c = nullptr;      // tanh(c'), kept for the backward
  T* h_out = nullptr;
  T* c_out = nullptr;
  Zeta<T> zeta;
  int64_t t = 0, B = 0, H = 0;
};

template <typename T>
struct StepBackward {
  const T* acts = nullptr;  // (B, 4H) activated gates of the step
  const T* tanh_c = nullptr;
  const T* c_prev = nullptr;
  const T* dh_output = nullptr;  // gradient of h_t as an output of the segment; null: 0
  const T* dh = nullptr;         // gradient of h_t from step t+1 (or the next segment)
  const T* dc = nullptr;         // gradient of c_t
  T* dgates = nullptr;           // (B, 4H)
  T* dterm = nullptr;            // null: no memory term
  T* dc_prev = nullptr;
  T* dh_prev = nullptr;  // zoneout part only
  Zeta<T> zeta;
  int64_t t = 0, B = 0, H = 0;
};

/// The whole forward of element (b, j), as one CUDA thread runs it (the CPU
/// loop activates whole rows through ATen's vectorised ops instead, then
/// uses the same cell_state and zoneout_output).
template <typename T>
NRNM_HOST_DEVICE void step_forward_element(const StepForward<T>& a, int64_t b, int64_t j) {
  const int64_t H = a.H;
  const int64_t e = b * H + j;
  T* gates = a.gates + b * 4 * H;
  const T f = sigmoid_of(gates[j]);
  const T i = sigmoid_of(gates[H + j]);
  const T o = sigmoid_of(gates[2 * H + j]);
  const T g = tanh_of(gates[3 * H + j]);
  gates[j] = f;
  gates[H + j] = i;
  gates[2 * H + j] = o;
  gates[3 * H + j] = g;
  const T c_prev = a.c_prev[e];
  const T c_new = cell_state(f, i, g, c_prev, a.term != nullptr ? a.term[e] : T(0));
  const T tanh_c = tanh_of(c_new);
  a.tanh_c[e] = tanh_c;
  zoneout_output(o, tanh_c, c_new, a.h_prev[e], c_prev, a.zeta.at(a.t, b, j), a.zeta.active, a.h_out[e], a.c_out[e]);
}

/// The backward of the elements [j0, j1) of row b, shared by the CPU loop
/// (a whole row) and the kernel (one element): row pointers hoisted so that
/// the CPU loop vectorises.
template <typename T>
NRNM_HOST_DEVICE void step_backward_row(const StepBackward<T>& a, int64_t b, int64_t j0, int64_t j1) {
  const int64_t H = a.H;
  const T* f = a.acts + b * 4 * H;
  const T* i = f + H;
  const T* o = f + 2 * H;
  const T* g = f + 3 * H;
  const T* tanh_c = a.tanh_c + b * H;
  const T* c_prev = a.c_prev + b * H;
  const T* dh = a.dh + b * H;
  const T* dh_output = a.dh_output != nullptr ? a.dh_output + b * H : nullptr;
  const T* dc = a.dc + b * H;
  const T* zeta = a.zeta.row(a.t, b);
  T* df = a.dgates + b * 4 * H;
  T* di = df + H;
  T* d_o = df + 2 * H;
  T* dg = df + 3 * H;
  T* dterm = a.dterm != nullptr ? a.dterm + b * H : nullptr;
  T* dc_prev = a.dc_prev + b * H;
  T* dh_prev = a.dh_prev + b * H;
  for (int64_t j = j0; j < j1; ++j) {
    const T dh_total = dh_output != nullptr ? dh[j] + dh_output[j] : dh[j];
    const StepGrads<T> grads = step_backward(f[j], i[j], o[j], g[j], tanh_c[j], c_prev[j], dh_total, dc[j],
                                             zeta != nullptr ? zeta[j] : a.zeta.keep, a.zeta.active);
    df[j] = grads.f;
    di[j] = grads.i;
    d_o[j] = grads.o;
    dg[j] = grads.g;
    if (dterm != nullptr) dterm[j] = grads.term;
    dc_prev[j] = grads.c_prev;
    dh_prev[j] = grads.h_prev;
  }
}

}  // namespace pointwise
}  // namespace nrnm
