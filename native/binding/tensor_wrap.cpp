#include "tensor_wrap.h"

#include "addon_data.h"
#include "convert.h"
#include "errors.h"
#include "nrnm/runtime/device.h"

namespace nrnm_binding {

Napi::Function TensorWrap::Define(Napi::Env env) {
  return DefineClass(env, "TensorHandle",
                     {
                         StaticMethod<&TensorWrap::FromArray>("fromArray"),
                         InstanceMethod<&TensorWrap::Shape>("shape"),
                         InstanceMethod<&TensorWrap::Dtype>("dtype"),
                         InstanceMethod<&TensorWrap::Device>("device"),
                         InstanceMethod<&TensorWrap::ToArray>("toArray"),
                         InstanceMethod<&TensorWrap::To>("to"),
                         InstanceMethod<&TensorWrap::Dispose>("dispose"),
                         InstanceMethod<&TensorWrap::IsDisposed>("isDisposed"),
                     });
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {}

TensorWrap::~TensorWrap() {
  // Collected without dispose(): the tensor goes with its handle, and so does
  // its share of V8's external memory. Finalizers run outside the GC, also
  // while an environment is torn down (its isolate is still alive then); the
  // raw call because a destructor must not throw.
  if (reported_bytes_ != 0) {
    int64_t total = 0;
    napi_adjust_external_memory(Env(), -reported_bytes_, &total);
  }
}

Napi::Object TensorWrap::New(Napi::Env env, at::Tensor tensor) {
  Napi::Object object = GetAddonData(env).tensor_class.New({});
  Napi::ObjectWrap<TensorWrap>::Unwrap(object)->Reset(env, std::move(tensor));
  return object;
}

at::Tensor TensorWrap::OptionalTensorOf(const Napi::Value& value, const char* what) {
  if (value.IsUndefined() || value.IsNull()) return at::Tensor();
  return TensorOf(value, what);
}

const at::Tensor& TensorWrap::TensorOf(const Napi::Value& value, const char* what) {
  AddonData& data = GetAddonData(value.Env());
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data.tensor_class.Value())) {
    throw CodedError("ERR_ARG", std::string(what) + ": expected a tensor handle");
  }
  return Napi::ObjectWrap<TensorWrap>::Unwrap(value.As<Napi::Object>())->Live(what);
}

const at::Tensor& TensorWrap::Live(const char* what) const {
  if (!tensor_.defined()) throw CodedError("ERR_DISPOSED", std::string(what) + ": the tensor was disposed");
  return tensor_;
}

void TensorWrap::Reset(Napi::Env env, at::Tensor tensor) {
  const int64_t bytes = tensor.defined() && tensor.is_cpu() ? static_cast<int64_t>(tensor.nbytes()) : 0;
  Napi::MemoryManagement::AdjustExternalMemory(env, bytes - reported_bytes_);
  reported_bytes_ = bytes;
  tensor_ = std::move(tensor);
}

Napi::Value TensorWrap::FromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "Tensor.from", [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw CodedError("ERR_DTYPE", "Tensor.from: data must be a typed array");
    at::Tensor tensor =
        TensorFromTypedArray(info[0].As<Napi::TypedArray>(), ShapeFromJs(info[1], "Tensor.from"), "Tensor.from");
    return New(env, std::move(tensor));
  });
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "tensor.shape",
               [&]() -> Napi::Value { return ShapeToJs(info.Env(), Live("tensor.shape").sizes()); });
}

Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "tensor.dtype", [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), DtypeName(Live("tensor.dtype").scalar_type()));
  });
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "tensor.device",
               [&]() -> Napi::Value { return Napi::String::New(info.Env(), Live("tensor.device").device().str()); });
}

Napi::Value TensorWrap::ToArray(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "tensor.toArray",
               [&]() -> Napi::Value { return TypedArrayFromTensor(info.Env(), Live("tensor.toArray")); });
}

Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "tensor.to", [&]() -> Napi::Value {
    if (!info[0].IsString()) throw CodedError("ERR_ARG", "tensor.to: device must be a string");
    const c10::Device device = nrnm::resolve_device(info[0].As<Napi::String>().Utf8Value());
    return New(env, Live("tensor.to").to(device));
  });
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Reset(info.Env(), at::Tensor());
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.defined());
}

}  // namespace nrnm_binding
