#pragma once

// Checks autograd's gradient of a float64 loss against central differences
// at a few entries of one parameter. Test-only.

#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdint>
#include <functional>
#include <string>

namespace nrnm_test {

/// p.grad() holds the gradient from loss().backward(); `loss` recomputes the
/// loss from p's current values (the same random masks every call). Entries
/// 0, numel / `middle_divisor` and numel - 1 are checked within 1e-7.
inline void expect_central_differences(torch::Tensor p, const std::function<torch::Tensor()>& loss,
                                       const std::string& label, int64_t middle_divisor = 2) {
  torch::NoGradGuard no_grad;
  const torch::Tensor grad = p.grad().clone();
  for (int64_t i : {int64_t(0), p.numel() / middle_divisor, p.numel() - 1}) {
    const double eps = 1e-6;
    const double saved = p.view(-1)[i].item<double>();
    p.view(-1)[i] = saved + eps;
    const double up = loss().item<double>();
    p.view(-1)[i] = saved - eps;
    const double down = loss().item<double>();
    p.view(-1)[i] = saved;
    EXPECT_NEAR(grad.view(-1)[i].item<double>(), (up - down) / (2 * eps), 1e-7) << label << "[" << i << "]";
  }
}

}  // namespace nrnm_test
