#include "nrnm/model/lengths.h"

#include <c10/util/Exception.h>

namespace nrnm {

torch::Tensor checked_lengths(const torch::Tensor& lengths, int64_t B, int64_t T, const char* what) {
  if (!lengths.defined()) return lengths;
  TORCH_CHECK(lengths.dim() == 1 && lengths.size(0) == B, what, ": expected lengths of shape (", B,
              ") (one per sequence of the batch) but got ", lengths.sizes());
  TORCH_CHECK(!lengths.is_floating_point() && !lengths.is_complex() && lengths.scalar_type() != torch::kBool, what,
              ": expected integer lengths but got ", lengths.scalar_type());
  const torch::Tensor cpu = lengths.to(torch::kCPU, torch::kLong);
  const int64_t min = cpu.min().item<int64_t>();
  const int64_t max = cpu.max().item<int64_t>();
  TORCH_CHECK(min >= 1 && max <= T, what, ": expected every length in [1, ", T, "] (the batch has ", T,
              " steps) but got values from ", min, " to ", max);
  return cpu;
}

torch::Tensor valid_steps(const torch::Tensor& lengths, int64_t T, const torch::TensorOptions& like) {
  if (!lengths.defined() || lengths.min().item<int64_t>() == T) return {};
  // (T, 1) < (1, B) -> (T, B)
  const torch::Tensor steps = torch::arange(T, torch::kLong).unsqueeze(1);
  return steps.lt(lengths.unsqueeze(0)).to(like);
}

}  // namespace nrnm
