// NRNMCellImpl::forward_chunk: the layer over the next steps of a stream
// (cell.h). The same computation as forward(), split where the chunk meets a
// memory update instead of every k steps from 0: each piece reads one memory,
// and an update at step t reads the inputs x_{t-W} .. x_t and the outputs
// h_{t-k} .. h_{t-1}, which the state keeps from the chunks before.
//
// Every row has its own step count (a row may have been reset). A piece ends
// before the first step at which any row's memory updates; at that step the
// update is computed for the whole batch and kept for the rows that update
// (a row that does not keeps its memory). When the rows are in step, this is
// exactly forward()'s schedule.

#include "nrnm/model/cell.h"

#include "nrnm/model/schedule.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace nrnm {

namespace {

// The last `keep` rows of cat(window, fresh) along time.
torch::Tensor slide(const torch::Tensor& window, const torch::Tensor& fresh, int64_t keep) {
  const int64_t S = fresh.size(0);
  if (S >= keep) return fresh.narrow(0, S - keep, keep).clone();
  return torch::cat({window.narrow(0, S, keep - S), fresh}, 0);
}

// `tensor` with the rows `rows` of dimension `dim` set to 0 (a new tensor).
torch::Tensor zero_rows(const torch::Tensor& tensor, const torch::Tensor& rows, int64_t dim) {
  return tensor.defined() ? tensor.index_fill(dim, rows, 0) : tensor;
}

Schedule schedule_of(const NRNMCellOptions& options) {
  return Schedule{options.block_length(), options.stride(), options.input_aggregation()};
}

}  // namespace

void NRNMCellState::reset_rows(const std::vector<int64_t>& rows) {
  if (rows.empty()) return;
  const int64_t B = h.size(0);
  for (int64_t row : rows) TORCH_CHECK(row >= 0 && row < B, "NRNMCell: a stream of ", B, " sequences has no row ", row);
  for (int64_t row : rows) steps[static_cast<size_t>(row)] = 0;
  const torch::Tensor index = torch::tensor(rows, torch::dtype(torch::kLong)).to(h.device());
  h = zero_rows(h, index, 0);
  c = zero_rows(c, index, 0);
  memory = zero_rows(memory, index, 0);
  readout.m = zero_rows(readout.m, index, 0);  // read_memory(0) is exactly 0
  readout.m_hidden = zero_rows(readout.m_hidden, index, 0);
  inputs = zero_rows(inputs, index, 1);
  outputs = zero_rows(outputs, index, 1);
}

NRNMCellState NRNMCellImpl::initial_state(int64_t batch) {
  TORCH_CHECK(batch > 0, "NRNMCell: a stream needs a batch of at least one sequence (got ", batch, ")");
  const Schedule schedule = schedule_of(options);
  const int64_t H = options.hidden_size();
  const c10::TensorOptions like = weight_ih.options().requires_grad(false);
  NRNMCellState state;
  state.steps.assign(static_cast<size_t>(batch), 0);
  state.h = torch::zeros({batch, H}, like);
  state.c = torch::zeros({batch, H}, like);
  state.memory = torch::zeros({batch, slots(), H}, like);
  state.inputs = torch::zeros({schedule.input_window(), batch, options.input_size()}, like);
  state.outputs = torch::zeros({schedule.block_length, batch, H}, like);
  return state;
}

torch::Tensor NRNMCellImpl::forward_chunk(const torch::Tensor& x, NRNMCellState& state) {
  TORCH_CHECK(!is_training(), "NRNMCell: a stream runs in evaluation mode only (call eval() first)");
  TORCH_CHECK(state.h.defined(), "NRNMCell: the stream state was not initialised (initial_state)");
  const int64_t B = state.h.size(0);
  TORCH_CHECK(x.dim() == 3 && x.size(0) > 0 && x.size(1) == B && x.size(2) == options.input_size(),
              "NRNMCell: a stream of ", B, " sequences expects chunks of shape (steps, ", B, ", ", options.input_size(),
              ") with steps > 0 but got ", x.sizes());
  const Schedule schedule = schedule_of(options);
  const int64_t k = schedule.block_length;
  const int64_t W = schedule.input_window();
  const int64_t S = x.size(0);
  const int64_t d = x.size(2);
  const int64_t inputs_per_update = schedule.inputs_per_update();
  SegmentZoneout zoneout;  // eval: zeta is the scalar 1 - z
  zoneout.keep = 1.0 - options.zoneout();
  // The rows of h_{t-s}, ..., h_{t-ns} in the window h_{t-k} .. h_{t-1}: the
  // same for every t.
  std::vector<int64_t> token_steps = schedule.hidden_token_steps(k);
  const torch::Tensor token_rows = torch::tensor(token_steps, torch::dtype(torch::kLong)).to(x.device());

  std::vector<torch::Tensor> outputs;
  for (int64_t position = 0; position < S;) {
    std::vector<uint8_t> updating(static_cast<size_t>(B), 0);
    bool any = false;
    bool all = true;
    for (int64_t b = 0; b < B; ++b) {
      updating[b] = schedule.updates_at(state.steps[b]) ? 1 : 0;
      any = any || updating[b];
      all = all && updating[b];
    }
    if (any) {
      // Row b's inputs x_j, in the order the schedule names them, from the
      // window x_{t-W} .. x_t of that row (as forward()'s `stacked` row).
      const torch::Tensor history = torch::cat({state.inputs, x.narrow(0, position, 1)}, 0);  // (W + 1, B, d)
      std::vector<int64_t> rows(static_cast<size_t>(inputs_per_update * B));                  // (I, B), row-major
      for (int64_t b = 0; b < B; ++b) {
        const int64_t t = state.steps[b];
        const std::vector<int64_t> steps = schedule.input_steps(t);  // any t: within t - W .. t
        for (int64_t i = 0; i < inputs_per_update; ++i) rows[i * B + b] = steps[i] - (t - W);
      }
      const torch::Tensor index =
          torch::tensor(rows, torch::dtype(torch::kLong)).to(x.device()).view({inputs_per_update, B, 1});
      const torch::Tensor stacked =  // (1, B, I * d)
          history.gather(0, index.expand({inputs_per_update, B, d}))
              .permute({1, 0, 2})
              .reshape({1, B, inputs_per_update * d});
      const MemoryInput input = MC->project_input(aggregate(stacked));
      const torch::Tensor hidden_tokens = state.outputs.index_select(0, token_rows).transpose(0, 1);  // (B, n, H)
      const torch::Tensor memory_new = MC->update({input.token[0], input.gate[0]}, state.memory, hidden_tokens);
      if (all) {
        state.memory = memory_new;
      } else {
        const torch::Tensor mask =
            torch::from_blob(updating.data(), {B}, torch::kUInt8).to(x.device(), torch::kBool).view({B, 1, 1});
        state.memory = torch::where(mask, memory_new, state.memory);
      }
      // Eval: the memory carried is M_new itself, which m reads (a row not
      // updated yet has M = 0, so m = 0 and its refinement term is 0).
      state.readout = read_memory(state.memory);
    }
    // The steps up to the next update of any row read this memory.
    int64_t steps = S - position;
    for (int64_t b = 0; b < B; ++b) steps = std::min(steps, k - state.steps[b] % k);
    const torch::Tensor piece = x.narrow(0, position, steps);  // (steps, B, d)
    torch::Tensor terms;                                       // undefined before the first update
    if (state.readout.m.defined()) terms = memory_terms(memory_input_gates(piece), state.readout);
    const SegmentOutput out = recurrence(input_gates(piece), terms, state.h, state.c, zoneout);
    state.h = out.h;
    if (out.c.defined()) state.c = out.c;
    state.inputs = slide(state.inputs, piece, W);
    state.outputs = slide(state.outputs, out.outputs, k);
    for (int64_t& t : state.steps) t += steps;
    outputs.push_back(out.outputs);
    position += steps;
  }
  return outputs.size() == 1 ? outputs.front() : torch::cat(outputs, 0);  // (S, B, H)
}

}  // namespace nrnm
