#pragma once
// The JS handle of one nrnm::Trainer bound to one model (src/trainer.ts).
#include <memory>

#include <napi.h>

#include "model_state.h"

namespace nrnm_binding {

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TrainerWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Lr(const Napi::CallbackInfo& info);
  Napi::Value SetLr(const Napi::CallbackInfo& info);
  Napi::Value EndEpoch(const Napi::CallbackInfo& info);
  Napi::Value Counts(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value Join(const Napi::CallbackInfo& info);
  Napi::Value SumOverRanks(const Napi::CallbackInfo& info);
  Napi::Value AgreeOverRanks(const Napi::CallbackInfo& info);

  /// The model state, checked live (the model may have been disposed).
  std::shared_ptr<ModelState> Live(const char* what) const;

  std::shared_ptr<ModelState> state_;
  std::shared_ptr<nrnm::Trainer> trainer_;
  Napi::ObjectReference model_;  // keeps the model's JS wrapper alive
};

}  // namespace nrnm_binding
