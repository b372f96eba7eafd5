#include "nrnm/model/lstm_segment.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
#include <torch/autograd.h>

#include "nrnm/model/lstm_pointwise.h"
#include "nrnm/runtime/torch_compat.h"
#ifdef NRNM_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#include "kernels/lstm_pointwise_cuda.h"
#endif

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace nrnm {

namespace {

// NRNM_RECURRENCE=reference in the environment (read once, at load) sends
// every segment to the reference path: how a whole program, e.g. a jest
// test in a child process, checks a result on both recurrences.
bool fused_by_default() {
  const char* choice = std::getenv("NRNM_RECURRENCE");
  return choice == nullptr || std::strcmp(choice, "reference") != 0;
}

std::atomic<bool> fused_enabled{fused_by_default()};

// Rows of a (B, H) loop per parallel chunk: ATen's grain (32768 elements),
// so the small sizes of a recurrence stay on one thread.
int64_t row_grain(int64_t H) { return std::max<int64_t>(1, at::internal::GRAIN_SIZE / std::max<int64_t>(H, 1)); }

template <typename scalar_t>
pointwise::Zeta<scalar_t> make_zeta(const torch::Tensor& mask, double keep, int64_t B, int64_t H) {
  pointwise::Zeta<scalar_t> z;
  z.B = B;
  z.H = H;
  z.keep = static_cast<scalar_t>(keep);
  z.active = mask.defined() || keep != 1.0;
  if (mask.defined()) {
    z.mask = mask.data_ptr<scalar_t>();
    z.per_step = mask.dim() == 3;
  }
  return z;
}

template <typename scalar_t>
scalar_t* ptr(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<scalar_t>() : nullptr;
}

// One forward step on the CPU: the activations and tanh(c') through ATen's
// vectorised ops, the rest in two loops over the rows.
template <typename scalar_t>
void step_forward_cpu(const pointwise::StepForward<scalar_t>& a, const torch::Tensor& gates, torch::Tensor tanh_c,
                      const torch::Tensor& c_new) {
  const int64_t H = a.H;
  gates.narrow(1, 0, 3 * H).sigmoid_();
  gates.narrow(1, 3 * H, H).tanh_();
  at::parallel_for(0, a.B, row_grain(H), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const scalar_t* f = a.gates + b * 4 * H;
      const scalar_t* i = f + H;
      const scalar_t* g = f + 3 * H;
      const scalar_t* c_prev = a.c_prev + b * H;
      const scalar_t* term = a.term != nullptr ? a.term + b * H : nullptr;
      scalar_t* c = a.c_out + b * H;
      for (int64_t j = 0; j < H; ++j) {
        c[j] = pointwise::cell_state(f[j], i[j], g[j], c_prev[j], term != nullptr ? term[j] : scalar_t(0));
      }
    }
  });
  at::tanh_out(tanh_c, c_new);  // tanh_c: a handle to the step's slice of the buffer
  at::parallel_for(0, a.B, row_grain(H), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const scalar_t* o = a.gates + b * 4 * H + 2 * H;
      const scalar_t* tanh_c = a.tanh_c + b * H;
      const scalar_t* h_prev = a.h_prev + b * H;
      const scalar_t* c_prev = a.c_prev + b * H;
      const scalar_t* zeta = a.zeta.row(a.t, b);
      scalar_t* h = a.h_out + b * H;
      scalar_t* c = a.c_out + b * H;  // c' on entry, c_t on exit
      for (int64_t j = 0; j < H; ++j) {
        pointwise::zoneout_output(o[j], tanh_c[j], c[j], h_prev[j], c_prev[j], zeta != nullptr ? zeta[j] : a.zeta.keep,
                                  a.zeta.active, h[j], c[j]);
      }
    }
  });
}

template <typename scalar_t>
void step_backward_cpu(const pointwise::StepBackward<scalar_t>& a) {
  at::parallel_for(0, a.B, row_grain(a.H), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      pointwise::step_backward_row(a, b, 0, a.H);
    }
  });
}

#ifdef NRNM_WITH_CUDA
void* current_stream(const torch::Tensor& on) { return c10::cuda::getCurrentCUDAStream(on.device().index()).stream(); }
#endif

// The pointwise part of a step where its tensors live.
template <typename scalar_t>
void step_forward(const pointwise::StepForward<scalar_t>& a, const torch::Tensor& gates, const torch::Tensor& tanh_c,
                  const torch::Tensor& c_new) {
#ifdef NRNM_WITH_CUDA
  if (gates.is_cuda()) return cuda::launch_step_forward(a, current_stream(gates));
#endif
  step_forward_cpu(a, gates, tanh_c, c_new);
}

template <typename scalar_t>
void step_backward(const pointwise::StepBackward<scalar_t>& a, const torch::Tensor& on) {
#ifdef NRNM_WITH_CUDA
  if (on.is_cuda()) return cuda::launch_step_backward(a, current_stream(on));
#endif
  step_backward_cpu(a);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LstmSegmentFunction : public torch::autograd::Function<LstmSegmentFunction> {
 public:
  // Function::apply cannot take undefined tensors: an absent `terms` or
  // `mask` arrives as an empty tensor.
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x_gates, const torch::Tensor& terms_in,
                               const torch::Tensor& h0, const torch::Tensor& c0, const torch::Tensor& weight_hh,
                               const torch::Tensor& mask_in, double keep) {
    const torch::Tensor terms = terms_in.numel() > 0 ? terms_in : torch::Tensor();
    const torch::Tensor mask = mask_in.numel() > 0 ? mask_in : torch::Tensor();
    const int64_t S = x_gates.size(0);
    const int64_t B = x_gates.size(1);
    const int64_t H = h0.size(1);
    const c10::OptionalDeviceGuard device_guard(x_gates.device());  // kernels launch on the current device
    const torch::Tensor h0c = h0.contiguous();
    const torch::Tensor c0c = c0.contiguous();
    const torch::Tensor termsc = terms.defined() ? terms.contiguous() : terms;
    const torch::Tensor maskc = mask.defined() ? mask.contiguous() : mask;
    torch::Tensor acts = torch::empty({S, B, 4 * H}, x_gates.options());  // sigmoid f|i|o, tanh g
    torch::Tensor tanh_c = torch::empty({S, B, H}, x_gates.options());    // tanh(c')
    torch::Tensor hs = torch::empty({S, B, H}, x_gates.options());        // h_t
    torch::Tensor cs = torch::empty({S, B, H}, x_gates.options());        // c_t

    AT_DISPATCH_FLOATING_TYPES(x_gates.scalar_type(), "lstm_segment_forward", [&] {
      pointwise::StepForward<scalar_t> step;
      step.zeta = make_zeta<scalar_t>(maskc, keep, B, H);
      step.B = B;
      step.H = H;
      torch::Tensor h = h0c;
      torch::Tensor c = c0c;
      for (int64_t t = 0; t < S; ++t) {
        torch::Tensor gates = acts[t];  // (B, 4H)
        at::addmm_out(gates, x_gates[t], h, weight_hh);
        const torch::Tensor c_t = cs[t];
        const torch::Tensor h_t = hs[t];
        const torch::Tensor tc = tanh_c[t];
        step.t = t;
        step.gates = ptr<scalar_t>(gates);
        step.c_prev = ptr<scalar_t>(c);
        step.h_prev = ptr<scalar_t>(h);
        step.term = termsc.defined() ? ptr<scalar_t>(termsc[t]) : nullptr;
        step.tanh_c = ptr<scalar_t>(tc);
        step.h_out = ptr<scalar_t>(h_t);
        step.c_out = ptr<scalar_t>(c_t);
        step_forward(step, gates, tc, c_t);
        h = h_t;
        c = c_t;
      }
    });

    ctx->set_materialize_grads(false);
    ctx->save_for_backward({h0c, c0c, weight_hh, hs});
    ctx->saved_data["acts"] = acts;
    ctx->saved_data["tanh_c"] = tanh_c;
    ctx->saved_data["cs"] = cs;
    ctx->saved_data["mask"] = maskc;
    ctx->saved_data["keep"] = keep;
    ctx->saved_data["has_terms"] = terms.defined();
    // The last h and c as their own tensors (not views of the buffers), so
    // that their gradients arrive without a full-size select backward.
    return {hs, hs[S - 1].clone(), cs[S - 1].clone()};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& h0 = saved[0];
    const torch::Tensor& c0 = saved[1];
    const torch::Tensor& weight_hh = saved[2];
    const torch::Tensor& hs = saved[3];
    const torch::Tensor acts = ctx->saved_data["acts"].toTensor();
    const torch::Tensor tanh_c = ctx->saved_data["tanh_c"].toTensor();
    const torch::Tensor cs = ctx->saved_data["cs"].toTensor();
    const torch::Tensor mask = ctx->saved_data["mask"].toTensor();
    const double keep = ctx->saved_data["keep"].toDouble();
    const bool has_terms = ctx->saved_data["has_terms"].toBool();
    const int64_t S = hs.size(0);
    const int64_t B = hs.size(1);
    const int64_t H = hs.size(2);

    const c10::OptionalDeviceGuard device_guard(hs.device());
    const torch::Tensor dhs = grads[0].defined() ? grads[0].contiguous() : torch::Tensor();
    // dh: gradient of h_t from outside the outputs (the next segment), then
    // from step t+1 through W_hh and zoneout; dc likewise.
    torch::Tensor dh =
        grads[1].defined() ? grads[1].clone(at::MemoryFormat::Contiguous) : torch::zeros({B, H}, hs.options());
    torch::Tensor dc =
        grads[2].defined() ? grads[2].clone(at::MemoryFormat::Contiguous) : torch::zeros({B, H}, hs.options());
    torch::Tensor dgates = torch::empty({S, B, 4 * H}, hs.options());
    torch::Tensor dterms = has_terms ? torch::empty({S, B, H}, hs.options()) : torch::Tensor();
    torch::Tensor dc_prev = torch::empty({B, H}, hs.options());
    torch::Tensor dh_prev = torch::empty({B, H}, hs.options());
    const torch::Tensor weight_t = weight_hh.t();  // [4H, H]

    AT_DISPATCH_FLOATING_TYPES(hs.scalar_type(), "lstm_segment_backward", [&] {
      pointwise::StepBackward<scalar_t> step;
      step.zeta = make_zeta<scalar_t>(mask, keep, B, H);
      step.B = B;
      step.H = H;
      step.dc_prev = ptr<scalar_t>(dc_prev);
      step.dh_prev = ptr<scalar_t>(dh_prev);
      // Step t of an (S, B, width) buffer by pointer: no tensor per read.
      const int64_t gates_step = B * 4 * H, state_step = B * H;
      const scalar_t* acts_p = ptr<scalar_t>(acts);
      const scalar_t* tanh_c_p = ptr<scalar_t>(tanh_c);
      const scalar_t* cs_p = ptr<scalar_t>(cs);
      const scalar_t* dhs_p = ptr<scalar_t>(dhs);
      scalar_t* dgates_p = ptr<scalar_t>(dgates);
      scalar_t* dterms_p = ptr<scalar_t>(dterms);
      for (int64_t t = S - 1; t >= 0; --t) {
        const torch::Tensor dg = dgates[t];  // a tensor: the GEMM below reads it
        step.t = t;
        step.acts = acts_p + t * gates_step;
        step.tanh_c = tanh_c_p + t * state_step;
        step.c_prev = t > 0 ? cs_p + (t - 1) * state_step : ptr<scalar_t>(c0);
        step.dh_output = dhs_p != nullptr ? dhs_p + t * state_step : nullptr;
        step.dh = ptr<scalar_t>(dh);
        step.dc = ptr<scalar_t>(dc);
        step.dgates = dgates_p + t * gates_step;
        step.dterm = dterms_p != nullptr ? dterms_p + t * state_step : nullptr;
        step_backward(step, dg);
        // dh_{t-1} = (zoneout part) + dgates W_hh^T; dc and dc_prev swap
        // roles (the swap moves the tensors, so refresh both pointers).
        at::addmm_out(dh, dh_prev, dg, weight_t);
        std::swap(dc, dc_prev);
        step.dc_prev = ptr<scalar_t>(dc_prev);
      }
    });

    torch::Tensor dweight;
    if (ctx->needs_input_grad(4)) {
      // One GEMM for the segment: sum_t h_{t-1}^T dgates_t.
      dweight = torch::mm(h0.t(), dgates[0]);
      if (S > 1) {
        dweight.addmm_(hs.narrow(0, 0, S - 1).reshape({(S - 1) * B, H}).t(),
                       dgates.narrow(0, 1, S - 1).reshape({(S - 1) * B, 4 * H}));
      }
    }
    return {dgates, dterms, dh, dc, dweight, torch::Tensor(), torch::Tensor()};
  }
};

// The fused path runs float32/float64 on the CPU and, built against a CUDA
// LibTorch, on CUDA; autocast (bf16) and everything else take the reference.
bool can_fuse(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
              const torch::Tensor& c0, const torch::Tensor& weight_hh, const torch::Tensor& mask) {
  if (!fused_enabled.load(std::memory_order_relaxed) || autocast_active()) return false;
  const auto type = x_gates.scalar_type();
  if (type != torch::kFloat && type != torch::kDouble) return false;
  const torch::Device device = x_gates.device();
#ifdef NRNM_WITH_CUDA
  if (!device.is_cpu() && !device.is_cuda()) return false;
  // A GPU this binary has no kernel code for (e.g. sm_70 in a CUDA 13
  // build) takes the reference, said once on stderr, instead of failing.
  if (device.is_cuda() && !cuda::fused_kernels_usable(device.index())) return false;
#else
  if (!device.is_cpu()) return false;
#endif
  for (const torch::Tensor* t : {&x_gates, &terms, &h0, &c0, &weight_hh, &mask}) {
    if (!t->defined()) continue;
    if (t->device() != device || t->scalar_type() != type || t->layout() != torch::kStrided) return false;
  }
  return x_gates.dim() == 3 && x_gates.size(0) > 0;
}

void check_shapes(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                  const torch::Tensor& c0, const torch::Tensor& weight_hh, const torch::Tensor& mask) {
  TORCH_CHECK(h0.dim() == 2 && c0.sizes() == h0.sizes(),
              "lstm_segment: expected h0 and c0 of shape (batch, hidden) but got ", h0.sizes(), " and ", c0.sizes());
  const int64_t B = h0.size(0);
  const int64_t H = h0.size(1);
  TORCH_CHECK(x_gates.dim() == 3 && x_gates.size(1) == B && x_gates.size(2) == 4 * H,
              "lstm_segment: expected x_gates of shape (steps, ", B, ", ", 4 * H, ") but got ", x_gates.sizes());
  TORCH_CHECK(weight_hh.dim() == 2 && weight_hh.size(0) == H && weight_hh.size(1) == 4 * H,
              "lstm_segment: expected weight_hh of shape [", H, ", ", 4 * H, "] but got ", weight_hh.sizes());
  const int64_t S = x_gates.size(0);
  TORCH_CHECK(!terms.defined() || terms.sizes() == torch::IntArrayRef({S, B, H}),
              "lstm_segment: expected terms of shape (", S, ", ", B, ", ", H, ") but got ", terms.sizes());
  TORCH_CHECK(
      !mask.defined() || mask.sizes() == torch::IntArrayRef({1, H}) || mask.sizes() == torch::IntArrayRef({S, B, H}),
      "lstm_segment: expected a zoneout mask of shape (1, ", H, ") or (", S, ", ", B, ", ", H, ") but got ",
      mask.sizes());
}

}  // namespace

void set_fused_recurrence(bool enabled) { fused_enabled.store(enabled, std::memory_order_relaxed); }

SegmentOutput lstm_segment_reference(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                                     const torch::Tensor& c0, const torch::Tensor& weight_hh,
                                     const SegmentZoneout& zoneout) {
  check_shapes(x_gates, terms, h0, c0, weight_hh, zoneout.mask);
  const int64_t S = x_gates.size(0);
  const int64_t H = h0.size(1);
  const std::vector<torch::Tensor> gates_in = x_gates.unbind(0);  // S x (B, 4H)
  const std::vector<torch::Tensor> term = terms.defined() ? terms.unbind(0) : std::vector<torch::Tensor>();
  const bool per_step = zoneout.mask.defined() && zoneout.mask.dim() == 3;
  const torch::Tensor rest = zoneout.mask.defined() ? 1 - zoneout.mask : torch::Tensor();
  torch::Tensor h = h0;  // (B, H)
  torch::Tensor c = c0;  // (B, H)
  std::vector<torch::Tensor> outputs;
  outputs.reserve(S);
  for (int64_t t = 0; t < S; ++t) {
    torch::Tensor gates = torch::addmm(gates_in[t], h, weight_hh);  // (B, 4H): f|i|o|g
    torch::Tensor fio = gates.narrow(1, 0, 3 * H).sigmoid();        // (B, 3H)
    torch::Tensor g = gates.narrow(1, 3 * H, H).tanh();             // (B, H)
    torch::Tensor f = fio.narrow(1, 0, H);
    torch::Tensor i = fio.narrow(1, H, H);
    torch::Tensor o = fio.narrow(1, 2 * H, H);
    torch::Tensor c_next = torch::addcmul(f * c, i, g);  // (B, H): f c + i g
    if (!term.empty()) c_next = c_next + term[t];        // + (r m) W_mt
    torch::Tensor h_next = o * torch::tanh(c_next);      // (B, H)
    if (zoneout.mask.defined()) {
      const torch::Tensor zeta = per_step ? zoneout.mask[t] : zoneout.mask;  // (1 or B, H)
      const torch::Tensor keep_old = per_step ? rest[t] : rest;
      h = torch::addcmul(h * keep_old, h_next, zeta);
      c = torch::addcmul(c * keep_old, c_next, zeta);
    } else if (zoneout.keep != 1.0) {
      h = torch::add(h_next * zoneout.keep, h, 1 - zoneout.keep);
      c = torch::add(c_next * zoneout.keep, c, 1 - zoneout.keep);
    } else {
      h = h_next;
      c = c_next;
    }
    outputs.push_back(h);
  }
  return {torch::stack(outputs, 0), h, c};
}

SegmentOutput lstm_segment(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h0,
                           const torch::Tensor& c0, const torch::Tensor& weight_hh, const SegmentZoneout& zoneout) {
  if (!can_fuse(x_gates, terms, h0, c0, weight_hh, zoneout.mask)) {
    return lstm_segment_reference(x_gates, terms, h0, c0, weight_hh, zoneout);
  }
  check_shapes(x_gates, terms, h0, c0, weight_hh, zoneout.mask);
  const torch::Tensor none = torch::empty({0}, x_gates.options());
  const variable_list out = LstmSegmentFunction::apply(x_gates, terms.defined() ? terms : none, h0, c0, weight_hh,
                                                       zoneout.mask.defined() ? zoneout.mask : none, zoneout.keep);
  return {out[0], out[1], out[2]};
}

}  // namespace nrnm
