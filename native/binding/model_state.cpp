#include "model_state.h"

#include <sstream>

#include <torch/cuda.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "errors.h"

namespace nrnm_binding {

at::Tensor ModelState::Input(const at::Tensor& x) const {
  if (x.dim() != 3) {
    throw CodedError("ERR_SHAPE", "x must have shape [batch, time, features] (got " + std::to_string(x.dim()) +
                                      " dimensions)");
  }
  return x.to(device, at::kFloat);
}

at::Tensor ModelState::Labels(const at::Tensor& y) const { return y.to(device, at::kLong); }

void ModelState::Synchronize() const {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

std::string SaveArchive(ModelState& state, const nrnm::Trainer* trainer) {
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive module_archive;
  state.model->save(module_archive);
  archive.write("module", module_archive);
  archive.write("generator_state", state.model->generator.get_state());
  if (trainer != nullptr) {
    torch::serialize::OutputArchive trainer_archive;
    trainer->save(trainer_archive);
    archive.write("trainer", trainer_archive);
  }
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void LoadArchive(ModelState& state, nrnm::Trainer* trainer, const std::string& bytes) {
  std::istringstream in(bytes);
  torch::serialize::InputArchive archive;
  archive.load_from(in, state.device);
  torch::serialize::InputArchive module_archive;
  archive.read("module", module_archive);
  state.model->load(module_archive);
  at::Tensor generator_state;
  archive.read("generator_state", generator_state);
  state.model->generator.set_state(generator_state.to(at::kCPU));
  if (trainer != nullptr) {
    torch::serialize::InputArchive trainer_archive;
    if (!archive.try_read("trainer", trainer_archive)) {
      throw CodedError("ERR_FORMAT", "the checkpoint has no trainer state (it was saved from a model, not a trainer)");
    }
    trainer->load(trainer_archive);
  }
}

}  // namespace nrnm_binding
