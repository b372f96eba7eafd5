#include "nrnm/model/schedule.h"

namespace nrnm {

Schedule Schedule::from(const NRNMOptions& options) {
  return Schedule{options.block_length(), options.stride(), options.input_aggregation()};
}

std::vector<int64_t> Schedule::update_steps(int64_t steps) const {
  std::vector<int64_t> result;
  for (int64_t t = block_length; t < steps; t += block_length) {
    result.push_back(t);
  }
  return result;
}

std::vector<int64_t> Schedule::hidden_token_steps(int64_t t) const {
  std::vector<int64_t> result;
  for (int64_t j = 1; j <= slots(); ++j) {
    result.push_back(t - j * stride);
  }
  return result;
}

std::vector<int64_t> Schedule::input_steps(int64_t t) const {
  if (aggregation == InputAggregation::kStrided) {
    return hidden_token_steps(t);
  }
  // The official code keeps three lists of inputs sampled every 1, 3 and 5
  // steps; at an update step they hold the last 5 inputs, the pair (p, p+3)
  // completed at the last multiple of 6, and x_t.
  const int64_t p = 6 * (t / 6 - 1);
  return {t - 5, t - 4, t - 3, t - 2, t - 1, p, p + 3, t};
}

int64_t Schedule::inputs_per_update() const { return aggregation == InputAggregation::kStrided ? slots() : 8; }

int64_t Schedule::input_window() const { return aggregation == InputAggregation::kStrided ? block_length : 11; }

}  // namespace nrnm
