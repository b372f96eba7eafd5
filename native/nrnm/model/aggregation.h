#pragma once

// DilatedAggregation: the official input aggregation of a memory update
// (NRNM_SPEC.md, `dilated`): the 8 inputs chosen by Schedule::input_steps,
// concatenated to u (8d), become a_t = ELU(Dropout(u) W_a + b_a) (2d).
//
// Registered in the cell as `linear1` when d == 150 and `linear2` otherwise,
// with the Linear as child `1`, so that its parameters are named like the
// official `linearX = nn.Sequential(nn.Dropout, nn.Linear, nn.ELU)`. The
// dropout mask is drawn by the network (from the model's generator) and
// passed in.

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nrnm {

class DilatedAggregationImpl : public torch::nn::Cloneable<DilatedAggregationImpl> {
 public:
  /// input_size: d, the width of one layer input.
  explicit DilatedAggregationImpl(int64_t input_size);

  void reset() override;

  /// u: (..., 8d) -> a: (..., 2d). `keep_mask` (same shape as u, {0,1}
  /// already divided by the keep probability) is the dropout; undefined for
  /// none (eval).
  torch::Tensor forward(const torch::Tensor& u, const torch::Tensor& keep_mask = {});

  /// The official name of the aggregation of a layer of input width d.
  static const char* official_name(int64_t input_size);

  /// Prints `DilatedAggregation(8x150 -> 300)`.
  void pretty_print(std::ostream& stream) const override;

  int64_t input_size;
  torch::nn::Linear linear{nullptr};  // 8d -> 2d, registered as "1"
};

TORCH_MODULE(DilatedAggregation);

}  // namespace nrnm
