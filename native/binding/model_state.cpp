#include "model_state.h"

#include <torch/cuda.h>

namespace nrnm_binding {

void ModelState::Synchronize() const {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

nrnm::CheckpointParts ModelState::Parts(nrnm::Trainer* trainer) {
  return {model.ptr().get(), &model->generator, trainer};
}

}  // namespace nrnm_binding
