#pragma once
// The native side of one NRNMClassifier: the module, its device, and the lock
// that serialises every call on it (the model's JS wrapper and its trainer
// share this state). src/ also queues calls per model, so the lock is only a
// safety net and never waits in practice.
#include <memory>
#include <mutex>
#include <string>

#include <ATen/core/Tensor.h>

#include "nrnm/serialize/checkpoint.h"
#include "nrnm/model/classifier.h"
#include "nrnm/train/trainer.h"

namespace nrnm_binding {

struct ModelState {
  ModelState(nrnm::NRNMClassifier model_, c10::Device device_) : model(std::move(model_)), device(device_) {}

  nrnm::NRNMClassifier model;
  c10::Device device;
  std::mutex mutex;
  bool disposed = false;

  /// Waits for queued GPU work so a resolved promise means "done" and CUDA
  /// errors surface in the call that caused them.
  void Synchronize() const;
  /// What a checkpoint of this model (and `trainer`, if given) holds.
  nrnm::CheckpointParts Parts(nrnm::Trainer* trainer);
};

}  // namespace nrnm_binding
