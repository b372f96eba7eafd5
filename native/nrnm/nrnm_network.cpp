#include "nrnm/nrnm_network.h"

#include "nrnm/backbone_recurrence.h"
#include "nrnm/random.h"
#include "nrnm/recurrence.h"
#include "nrnm/schedule.h"

#include <string>

namespace nrnm {

NRNMNetworkImpl::NRNMNetworkImpl(NRNMOptions options_) : options(std::move(options_)) { reset(); }

void NRNMNetworkImpl::reset() {
  validate(options);
  cells.clear();
  for (int64_t layer = 0; layer < options.layers(); ++layer) {
    const int64_t d = layer == 0 ? options.input_size() : options.hidden_size();
    cells.push_back(
        register_module("cell_" + std::to_string(layer), NRNMCell(NRNMCellOptions(d, options.hidden_size())
                                                                      .block_length(options.block_length())
                                                                      .stride(options.stride())
                                                                      .heads(options.heads())
                                                                      .input_aggregation(options.input_aggregation())
                                                                      .init(options.init())
                                                                      .backbone(options.backbone())
                                                                      .attention(options.attention()))));
  }
}

void NRNMNetworkImpl::reset_parameters(InitScheme init, at::Generator& generator) {
  for (auto& cell : cells) {
    cell->reset_parameters(init, generator);
  }
}

torch::Tensor NRNMNetworkImpl::forward(const torch::Tensor& x, at::Generator& generator, NRNMTrace* trace,
                                       torch::Tensor* last_h, const torch::Tensor& valid) {
  TORCH_CHECK(x.dim() == 3 && x.size(0) > 0 && x.size(1) > 0 && x.size(2) == options.input_size(),
              "NRNMNetwork expects x of shape (time, batch, ", options.input_size(),
              ") with time and batch > 0 but got ", x.sizes());
  if (trace != nullptr) {
    trace->layers.assign(cells.size(), NRNMTrace::Layer());
  }
  TORCH_CHECK(!valid.defined() || valid.sizes() == torch::IntArrayRef({x.size(0), x.size(1)}),
              "NRNMNetwork expects valid of shape (", x.size(0), ", ", x.size(1), ") but got ", valid.sizes());
  torch::Tensor sequence = x.contiguous();  // (T, B, d) of the current layer
  for (size_t layer = 0; layer < cells.size(); ++layer) {
    sequence = run_layer(cells[layer], sequence, generator, trace != nullptr ? &trace->layers[layer] : nullptr,
                         layer + 1 == cells.size() ? last_h : nullptr, valid);
  }
  return sequence;  // (T, B, H)
}

namespace {

// The masks of one layer for one forward call, drawn in this order.
struct LayerMasks {
  torch::Tensor zoneout;      // (1, H) shared or (T, B, H) per-step; undefined: no mask
  torch::Tensor aggregation;  // (U, B, 8d) / keep; dilated only
  torch::Tensor memory;       // (U, 1 or B, n, H) / keep
};

LayerMasks draw_masks(const NRNMOptions& options, int64_t T, int64_t B, int64_t n, int64_t aggregated_width,
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

HoistedInputs hoist_inputs(NRNMCell& cell, const Schedule& schedule, const torch::Tensor& x,
                           const std::vector<int64_t>& update_steps, const torch::Tensor& aggregation_mask) {
  const int64_t T = x.size(0);
  const int64_t B = x.size(1);
  const int64_t d = x.size(2);
  const int64_t k = schedule.block_length;
  const int64_t U = static_cast<int64_t>(update_steps.size());
  HoistedInputs hoisted;
  hoisted.gates = cell->input_gates(x).split(k, 0);
  if (U == 0) return hoisted;
  hoisted.memory_gates = cell->memory_input_gates(x.narrow(0, k, T - k)).split(k, 0);
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
      cell->MC->project_input(cell->aggregate(stacked, aggregation_mask));
  hoisted.tokens = inputs.token.unbind(0);
  hoisted.token_gates = inputs.gate.unbind(0);
  return hoisted;
}

}  // namespace

torch::Tensor NRNMNetworkImpl::run_layer(NRNMCell& cell, const torch::Tensor& x, at::Generator& generator,
                                         NRNMTrace::Layer* trace, torch::Tensor* last_h, const torch::Tensor& valid) {
  const Schedule schedule = Schedule::from(options);
  const int64_t T = x.size(0);
  const int64_t B = x.size(1);
  const int64_t H = options.hidden_size();
  const int64_t n = schedule.slots();
  const int64_t k = schedule.block_length;
  const std::vector<int64_t> update_steps = schedule.update_steps(T);
  const int64_t U = static_cast<int64_t>(update_steps.size());

  LayerMasks masks;  // none in eval
  if (is_training()) {
    masks =
        draw_masks(options, T, B, n, schedule.inputs_per_update() * x.size(2), U, generator, cell->weight_ih.options());
  }
  const HoistedInputs in = hoist_inputs(cell, schedule, x, update_steps, masks.aggregation);
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
          cell->MC->update({in.tokens[u], in.token_gates[u]}, memory, hidden_tokens);  // (B, n, H)
      terms = cell->memory_terms(in.memory_gates[segment - 1], cell->read_memory(memory_new));
      torch::Tensor carried = masks.memory.defined() ? memory_new * masks.memory[u] : memory_new;  // (B, n, H)
      if (valid.defined()) {
        // A sequence that ended before t keeps its memory. (Its later steps
        // keep their state too, so this changes no output; it keeps M what
        // the sequence left, as the trace shows.)
        carried = torch::where(valid[t].view({B, 1, 1}) > 0, carried, memory);
      }
      if (trace != nullptr) {
        NRNMTrace::Update record;
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
    SegmentOutput out;
    switch (options.backbone()) {
      case Backbone::kLSTM:
        out = lstm_segment(in.gates[segment], terms, h, c, cell->weight_hh, segment_zoneout(t, steps));
        c = out.c;
        break;
      case Backbone::kGRU:  // no cell state: c stays 0 and unused
        out = gru_segment(in.gates[segment], terms, h, cell->weight_hh, cell->bias_hh, segment_zoneout(t, steps));
        break;
      case Backbone::kRNN:
        out = rnn_segment(in.gates[segment], terms, h, cell->weight_hh, segment_zoneout(t, steps));
        break;
    }
    outputs.push_back(out.outputs);
    h = out.h;
  }

  if (last_h != nullptr) *last_h = h;
  torch::Tensor result = outputs.size() == 1 ? outputs.front() : torch::cat(outputs, 0);  // (T, B, H)
  if (trace != nullptr) {
    trace->outputs = result.detach();
    trace->zoneout_mask = masks.zoneout;
  }
  return result;
}

void NRNMNetworkImpl::pretty_print(std::ostream& stream) const {
  stream << "NRNMNetwork(" << options.input_size() << ", " << options.hidden_size() << ", layers=" << options.layers()
         << ", k=" << options.block_length() << ", s=" << options.stride() << ", heads=" << options.heads() << ", "
         << to_string(options.input_aggregation()) << ")";
}

}  // namespace nrnm
