#pragma once
// A LibTorch tensor owned by a JS object (the handle behind src/tensor.ts).
#include <ATen/core/Tensor.h>
#include <napi.h>

namespace nrnm_binding {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  /// Wraps an existing tensor in a new JS handle.
  static Napi::Object New(Napi::Env env, at::Tensor tensor);
  /// The tensor of a handle passed from JS; throws ERR_DISPOSED/ERR_ARG.
  static const at::Tensor& TensorOf(const Napi::Value& value, const char* what);
  /// TensorOf, or an undefined tensor for `undefined`/`null` (optional arguments).
  static at::Tensor OptionalTensorOf(const Napi::Value& value, const char* what);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

 private:
  static Napi::Value FromArray(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  const at::Tensor& Live(const char* what) const;
  void Reset(Napi::Env env, at::Tensor tensor);

  at::Tensor tensor_;
  int64_t reported_bytes_ = 0;  // told to V8 so the GC sees native memory
};

}  // namespace nrnm_binding
