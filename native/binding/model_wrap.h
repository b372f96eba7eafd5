#pragma once
// The JS handle of one NRNMClassifier (held privately by src/model.ts).
#include <memory>

#include <napi.h>

#include "model_state.h"

namespace nrnm_binding {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

  /// The state behind a ModelWrap passed from JS; throws ERR_DISPOSED.
  static std::shared_ptr<ModelState> StateOf(const Napi::Value& value, const char* what);

 private:
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value LossAndGradients(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value IsTraining(const Napi::CallbackInfo& info);
  Napi::Value ParameterNames(const Napi::CallbackInfo& info);
  Napi::Value ParameterShapes(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  /// The live state; throws ERR_DISPOSED after dispose().
  ModelState& Live(const char* what) const;

  std::shared_ptr<ModelState> state_;
};

}  // namespace nrnm_binding
