#include "model_state.h"

#include <torch/cuda.h>

#include "errors.h"

namespace nrnm_binding {

at::Tensor ModelState::Input(const at::Tensor& x) const {
  if (x.dim() != 3) {
    throw CodedError("ERR_SHAPE",
                     "x must have shape [batch, time, features] (got " + std::to_string(x.dim()) + " dimensions)");
  }
  return x.to(device, at::kFloat);
}

at::Tensor ModelState::Labels(const at::Tensor& y) const {
  return y.to(device, y.is_floating_point() ? at::kFloat : at::kLong);
}

void ModelState::Synchronize() const {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

nrnm::CheckpointParts ModelState::Parts(nrnm::Trainer* trainer) {
  return {model.ptr().get(), &model->generator, trainer};
}

}  // namespace nrnm_binding
