#include "nrnm/model/cell.h"

#include "nrnm/model/gru_rnn_segment.h"
#include "nrnm/model/lstm_segment.h"
#include "nrnm/model/random.h"
#include "nrnm/model/schedule.h"

#include <cmath>

namespace nrnm {

NRNMCellOptions NRNMCellOptions::of_layer(const NRNMOptions& o, int64_t layer) {
  return NRNMCellOptions(layer == 0 ? o.input_size() : o.hidden_size(), o.hidden_size())
      .block_length(o.block_length())
      .stride(o.stride())
      .heads(o.heads())
      .input_aggregation(o.input_aggregation())
      .init(o.init())
      .backbone(o.backbone())
      .attention(o.attention())
      .zoneout(o.zoneout())
      .zoneout_mode(o.zoneout_mode())
      .memory_dropout(o.memory_dropout())
      .memory_dropout_mode(o.memory_dropout_mode())
      .aggregation_dropout(o.aggregation_dropout());
}

NRNMCellImpl::NRNMCellImpl(NRNMCellOptions options_) : options(std::move(options_)) { reset(); }

int64_t NRNMCellImpl::slots() const { return options.block_length() / options.stride(); }

int64_t backbone_gates(Backbone backbone) {
  switch (backbone) {
    case Backbone::kGRU:
      return 3;
    case Backbone::kRNN:
      return 1;
    case Backbone::kLSTM:
      break;
  }
  return 4;
}

int64_t NRNMCellImpl::gates() const { return backbone_gates(options.backbone()); }

void NRNMCellImpl::reset() {
  const int64_t d = options.input_size();
  const int64_t H = options.hidden_size();
  rules::positive(d, "inputSize");
  rules::positive(H, "hiddenSize");
  rules::block(options.block_length(), options.stride());
  rules::aggregation(options.input_aggregation(), options.block_length(), options.stride());
  rules::probability(options.zoneout(), "zoneout");
  rules::probability(options.memory_dropout(), "memoryDropout");
  rules::probability(options.aggregation_dropout(), "aggregationDropout");
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

namespace {

// The masks of one layer for one forward call, drawn in this order.
struct LayerMasks {
  torch::Tensor zoneout;      // (1, H) shared or (T, B, H) per-step; undefined: no mask
  torch::Tensor aggregation;  // (U, B, 8d) / keep; dilated only
  torch::Tensor memory;       // (U, 1 or B, n, H) / keep
};

LayerMasks draw_masks(const NRNMCellOptions& options, int64_t T, int64_t B, int64_t n, int64_t aggregated_width,
                      int64_t updates, at::Generator& generator, const c10::TensorOptions& like) {
  const int64_t H = options.hidden_size();
  LayerMasks masks;
  if (options.zoneout() > 0) {
    const double keep = 1 - options.zoneout();
    masks.zoneout = options.zoneout_mode() == ZoneoutMode::kShared ? bernoulli_mask({1, H}, keep, generator, like)
                                                                   : bernoulli_mask({T, B, H}, keep, generator, like);
  }
  if (updates == 0) return masks;
  if (options.aggregation_dropout() > 0 && options.input_aggregation() == InputAggregation::kDilated) {
    const double keep = 1 - options.aggregation_dropout();
    masks.aggregation = bernoulli_mask({updates, B, aggregated_width}, keep, generator, like).div_(keep);
  }
  if (options.memory_dropout() > 0) {
    const double keep = 1 - options.memory_dropout();
    const int64_t batch = options.memory_dropout_mode() == MemoryDropoutMode::kShared ? 1 : B;
    masks.memory = bernoulli_mask({updates, batch, n, H}, keep, generator, like).div_(keep);
  }
  return masks;
}

// Everything of a layer that depends on its input only, computed for all
// steps at once and split into the segments between two memory updates
// (one split or unbind: its backward is one cat or stack, where indexing
// segment by segment would add a full-size gradient each time).
struct HoistedInputs {
  std::vector<torch::Tensor> gates;         // segments of (<= k, B, 4H): x_t W_ih + b
  std::vector<torch::Tensor> memory_gates;  // segments of (<= k, B, nH): [i] covers steps (i+1)k.. of x_t W_mi + b_m
  std::vector<torch::Tensor> tokens;        // U x (B, H): e of each update
  std::vector<torch::Tensor> token_gates;   // U x (B, 2H): e W_ig + b_ig
};

HoistedInputs hoist_inputs(NRNMCellImpl& cell, const Schedule& schedule, const torch::Tensor& x,
                           const std::vector<int64_t>& update_steps, const torch::Tensor& aggregation_mask) {
  const int64_t T = x.size(0);
  const int64_t B = x.size(1);
  const int64_t d = x.size(2);
  const int64_t k = schedule.block_length;
  const int64_t U = static_cast<int64_t>(update_steps.size());
  HoistedInputs hoisted;
  hoisted.gates = cell.input_gates(x).split(k, 0);
  if (U == 0) return hoisted;
  hoisted.memory_gates = cell.memory_input_gates(x.narrow(0, k, T - k)).split(k, 0);
  std::vector<int64_t> input_steps;  // the S inputs of every update, in order
  for (int64_t t : update_steps) {
    for (int64_t j : schedule.input_steps(t)) input_steps.push_back(j);
  }
  const int64_t S = schedule.inputs_per_update();
  const torch::Tensor index = torch::tensor(input_steps, torch::dtype(torch::kLong)).to(x.device());
  // stacked: (U, B, S * d), the S inputs of each update side by side
  const torch::Tensor stacked =
      x.index_select(0, index).view({U, S, B, d}).permute({0, 2, 1, 3}).reshape({U, B, S * d});
  const MemoryInput inputs =  // token (U, B, H), gate (U, B, 2H)
      cell.MC->project_input(cell.aggregate(stacked, aggregation_mask));
  hoisted.tokens = inputs.token.unbind(0);
  hoisted.token_gates = inputs.gate.unbind(0);
  return hoisted;
}

}  // namespace

torch::Tensor NRNMCellImpl::forward(const torch::Tensor& given, const NRNMCellForward& with) {
  TORCH_CHECK(given.dim() == 3 && given.size(0) > 0 && given.size(1) > 0 && given.size(2) == options.input_size(),
              "NRNMCell expects x of shape (time, batch, ", options.input_size(), ") with time and batch > 0 but got ",
              given.sizes());
  const torch::Tensor& valid = with.valid;
  TORCH_CHECK(!valid.defined() || valid.sizes() == torch::IntArrayRef({given.size(0), given.size(1)}),
              "NRNMCell expects valid of shape (", given.size(0), ", ", given.size(1), ") but got ", valid.sizes());
  // Padding is inert: whatever x holds past a sequence's end (NaN and Inf
  // included) is replaced by 0 before any arithmetic, so those steps compute
  // finite values that zeta = 0 discards, and 0 * gradient stays 0. (Masking
  // the state alone is not enough: 0 * NaN is NaN, forward and backward.)
  const torch::Tensor x = valid.defined() ? given.masked_fill(valid.unsqueeze(2) == 0, 0) : given;
  NRNMCellTrace* trace = with.trace;
  if (trace != nullptr) *trace = NRNMCellTrace();
  const Schedule schedule{options.block_length(), options.stride(), options.input_aggregation()};
  const int64_t T = x.size(0);
  const int64_t B = x.size(1);
  const int64_t H = options.hidden_size();
  const int64_t n = schedule.slots();
  const int64_t k = schedule.block_length;
  const std::vector<int64_t> update_steps = schedule.update_steps(T);
  const int64_t U = static_cast<int64_t>(update_steps.size());

  LayerMasks masks;  // none in eval
  if (is_training()) {
    TORCH_CHECK(with.generator != nullptr, "NRNMCell: training mode needs a generator for its masks");
    masks =
        draw_masks(options, T, B, n, schedule.inputs_per_update() * x.size(2), U, *with.generator, weight_ih.options());
  }
  const HoistedInputs in = hoist_inputs(*this, schedule, x, update_steps, masks.aggregation);
  // Zoneout: zeta is the probability of taking the new state; in eval the
  // scalar keep, in training the {0,1} mask, shared (official) or per step.
  const double keep = 1.0 - options.zoneout();
  const bool shared_zoneout = options.zoneout_mode() == ZoneoutMode::kShared;

  // Zoneout of every segment: the shared mask, a slice of the per-step mask,
  // or in eval the scalar keep.
  auto segment_zoneout = [&](int64_t t0, int64_t steps) {
    SegmentZoneout zoneout;
    if (masks.zoneout.defined()) {
      zoneout.mask = shared_zoneout ? masks.zoneout : masks.zoneout.narrow(0, t0, steps);
    } else if (!is_training()) {
      zoneout.keep = keep;
    }
    if (valid.defined()) {
      // Variable lengths: zeta = 0 past a sequence's end keeps h and c, a
      // per-step (steps, B, H) zeta that both recurrences take as it is.
      const torch::Tensor inside = valid.narrow(0, t0, steps).unsqueeze(2);  // (steps, B, 1)
      zoneout.mask =
          (zoneout.mask.defined() ? inside * zoneout.mask : inside * zoneout.keep).expand({steps, B, H}).contiguous();
      zoneout.keep = 1.0;
    }
    return zoneout;
  };

  // The recurrence, one segment of k steps at a time: the memory updates
  // before the segment's first step (from the previous segment's outputs),
  // then the LSTM steps read the new memory. m = 0 until the first update:
  // no refinement term.
  const c10::TensorOptions state_options = in.gates.front().options();
  torch::Tensor h = torch::zeros({B, H}, state_options);          // (B, H)
  torch::Tensor c = torch::zeros({B, H}, state_options);          // (B, H)
  torch::Tensor memory = torch::zeros({B, n, H}, state_options);  // (B, n, H) as carried
  std::vector<torch::Tensor> outputs;                             // per segment (<= k, B, H)
  outputs.reserve(in.gates.size());
  // The rows of h_{t-s}, ..., h_{t-ns} in the previous segment (n s = k, so
  // they all lie there), the same for every update: built once, because on
  // CUDA copying an index to the device waits for the queued kernels.
  torch::Tensor token_rows;
  if (U > 0) {
    std::vector<int64_t> rows;
    for (int64_t j : schedule.hidden_token_steps(k)) rows.push_back(j);
    token_rows = torch::tensor(rows, torch::dtype(torch::kLong)).to(state_options.device());
  }
  for (size_t segment = 0; segment < in.gates.size(); ++segment) {
    const int64_t t = static_cast<int64_t>(segment) * k;  // first step of the segment
    const int64_t steps = in.gates[segment].size(0);
    torch::Tensor terms;  // (steps, B, H): (r m) W_mt; undefined before the first update
    if (schedule.updates_at(t)) {
      const int64_t u = t / k - 1;
      const torch::Tensor hidden_tokens = outputs.back().index_select(0, token_rows).transpose(0, 1);  // (B, n, H)
      const torch::Tensor memory_new =
          MC->update({in.tokens[u], in.token_gates[u]}, memory, hidden_tokens);  // (B, n, H)
      terms = memory_terms(in.memory_gates[segment - 1], read_memory(memory_new));
      torch::Tensor carried = masks.memory.defined() ? memory_new * masks.memory[u] : memory_new;  // (B, n, H)
      if (valid.defined()) {
        // A sequence that ended before t keeps its memory. (Its later steps
        // keep their state too, so this changes no output; it keeps M what
        // the sequence left, as the trace shows.)
        carried = torch::where(valid[t].view({B, 1, 1}) > 0, carried, memory);
      }
      if (trace != nullptr) {
        NRNMCellTrace::Update record;
        record.step = t;
        record.hidden_token_steps = schedule.hidden_token_steps(t);
        record.input_steps = schedule.input_steps(t);
        record.hidden_tokens = hidden_tokens.detach();
        record.memory_before = memory.detach();
        record.memory_after = memory_new.detach();
        record.memory_carried = carried.detach();
        trace->updates.push_back(std::move(record));
      }
      memory = carried;
    }
    const SegmentOutput out = recurrence(in.gates[segment], terms, h, c, segment_zoneout(t, steps));
    if (out.c.defined()) c = out.c;  // GRU, RNN: no cell state, c stays 0 and unused
    outputs.push_back(out.outputs);
    h = out.h;
  }

  if (with.last_h != nullptr) *with.last_h = h;
  torch::Tensor result = outputs.size() == 1 ? outputs.front() : torch::cat(outputs, 0);  // (T, B, H)
  if (trace != nullptr) {
    trace->outputs = result.detach();
    trace->zoneout_mask = masks.zoneout;
  }
  return result;
}

SegmentOutput NRNMCellImpl::recurrence(const torch::Tensor& x_gates, const torch::Tensor& terms, const torch::Tensor& h,
                                       const torch::Tensor& c, const SegmentZoneout& zoneout) {
  switch (options.backbone()) {
    case Backbone::kGRU:
      return gru_segment(x_gates, terms, h, weight_hh, bias_hh, zoneout);
    case Backbone::kRNN:
      return rnn_segment(x_gates, terms, h, weight_hh, zoneout);
    case Backbone::kLSTM:
      break;
  }
  return lstm_segment(x_gates, terms, h, c, weight_hh, zoneout);
}

void NRNMCellImpl::pretty_print(std::ostream& stream) const {
  stream << "NRNMCell(" << options.input_size() << ", " << options.hidden_size() << ", k=" << options.block_length()
         << ", s=" << options.stride();
  if (options.backbone() != Backbone::kLSTM) stream << ", " << to_string(options.backbone());
  stream << ")";
}

}  // namespace nrnm
