#include "nrnm/model/aggregation.h"

namespace nrnm {

DilatedAggregationImpl::DilatedAggregationImpl(int64_t input_size_) : input_size(input_size_) { reset(); }

void DilatedAggregationImpl::reset() {
  TORCH_CHECK(input_size > 0, "DilatedAggregation: input size must be positive (got ", input_size, ")");
  linear = register_module("1", torch::nn::Linear(8 * input_size, 2 * input_size));
}

torch::Tensor DilatedAggregationImpl::forward(const torch::Tensor& u, const torch::Tensor& keep_mask) {
  TORCH_CHECK(u.size(-1) == 8 * input_size, "DilatedAggregation: expected 8 stacked inputs of width ", input_size, " (",
              8 * input_size, ") but got shape ", u.sizes());
  // a: (..., 2d)
  return torch::elu(linear->forward(keep_mask.defined() ? u * keep_mask : u));
}

const char* DilatedAggregationImpl::official_name(int64_t input_size) {
  // The official cell owns linear1 (1200 -> 300) and linear2 (4096 -> 1024)
  // and picks linear1 when the stacked inputs are 1200 wide.
  return input_size == 150 ? "linear1" : "linear2";
}

void DilatedAggregationImpl::pretty_print(std::ostream& stream) const {
  stream << "DilatedAggregation(8x" << input_size << " -> " << 2 * input_size << ")";
}

}  // namespace nrnm
