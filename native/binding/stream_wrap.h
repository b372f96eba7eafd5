#pragma once
// The JS handle of one stream over a model (src/stream.ts): the state that
// NRNMClassifierImpl::forward_chunk carries from one chunk to the next.
#include <memory>

#include <napi.h>

#include "model_state.h"
#include "nrnm/model/network.h"

namespace nrnm_binding {

class StreamWrap : public Napi::ObjectWrap<StreamWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  /// new StreamHandle(modelHandle)
  explicit StreamWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Push(const Napi::CallbackInfo& info);
  Napi::Value Reset(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  /// The model state, checked live (the stream or its model may be disposed).
  std::shared_ptr<ModelState> Live(const char* what) const;

  std::shared_ptr<ModelState> state_;
  /// Shared with a running push, which replaces it under the model's lock.
  std::shared_ptr<nrnm::NRNMStreamState> stream_;
  Napi::ObjectReference model_;  // keeps the model's JS wrapper alive
};

}  // namespace nrnm_binding
