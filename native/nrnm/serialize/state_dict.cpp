#include "nrnm/serialize/state_dict.h"

#include "nrnm/runtime/errors.h"

#include <sstream>
#include <utility>
#include <vector>

namespace nrnm {

void load_state_dict(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors) {
  const auto params = module.named_parameters();
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (parameter, source)
  for (const auto& item : params) {
    const auto found = tensors.find(item.key());
    if (found == tensors.end()) throw FormatError("state dict: missing tensor '" + item.key() + "'");
    const torch::Tensor& source = found->second;
    if (source.sizes() != item.value().sizes()) {
      std::ostringstream message;
      message << "state dict: tensor '" << item.key() << "' has shape " << source.sizes() << " but the model needs "
              << item.value().sizes();
      throw ShapeError(message.str());
    }
    copies.emplace_back(item.value(), source);
  }
  if (tensors.size() != params.size()) {
    throw FormatError("state dict: unexpected tensors (the model has " + std::to_string(params.size()) +
                      " parameters)");
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, source] : copies) target.copy_(source);
}

}  // namespace nrnm
