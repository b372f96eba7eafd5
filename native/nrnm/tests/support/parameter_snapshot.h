#pragma once

// A copy of a module's parameters, to tell whether something (a refused
// file, a failed step) left the weights as they were. Test-only.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <vector>

namespace nrnm_test {

inline std::vector<torch::Tensor> snapshot(const torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) {
    out.push_back(p.detach().clone());
  }
  return out;
}

/// True when the module's parameters equal the snapshot bit for bit.
inline bool same(const std::vector<torch::Tensor>& a, const torch::nn::Module& m) {
  const auto b = m.parameters();
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace nrnm_test
