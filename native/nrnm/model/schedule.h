#pragma once

// The memory schedule of one NRNM layer (NRNM_SPEC.md, step 1): at which
// steps the memory updates, which of the layer's outputs become its hidden
// tokens and which inputs are aggregated into its input token. Pure integer
// functions, shared by the network and the tests.

#include "nrnm/model/options.h"

#include <cstdint>
#include <vector>

namespace nrnm {

struct Schedule {
  int64_t block_length;  // k
  int64_t stride;        // s
  InputAggregation aggregation;

  static Schedule from(const NRNMOptions& options);

  /// n = k / s.
  int64_t slots() const { return block_length / stride; }
  /// Memory updates before the LSTM step t when t > 0 and t % k == 0.
  bool updates_at(int64_t t) const { return t > 0 && t % block_length == 0; }
  /// Update steps k, 2k, ... below `steps`.
  std::vector<int64_t> update_steps(int64_t steps) const;
  /// Steps whose outputs h_j are the hidden tokens at update step t, newest
  /// first: t - s, t - 2s, ..., t - ns.
  std::vector<int64_t> hidden_token_steps(int64_t t) const;
  /// Steps whose inputs x_j are concatenated (in this order) into the
  /// aggregated input at update step t: strided t - s, ..., t - ns; dilated
  /// t-5, t-4, t-3, t-2, t-1, p, p+3, t with p = 6 (floor(t / 6) - 1).
  std::vector<int64_t> input_steps(int64_t t) const;
  /// Inputs per update: n (strided) or 8 (dilated).
  int64_t inputs_per_update() const;
  /// How many past inputs x_{t-W} .. x_{t-1} an update at t may read (besides
  /// x_t): k (strided) or 11 (dilated: t - p = t mod 6 + 6). A stream keeps
  /// that many (NRNMCellState::inputs).
  int64_t input_window() const;
};

}  // namespace nrnm
