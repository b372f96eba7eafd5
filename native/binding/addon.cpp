// Registration of everything the addon exposes. src/native.ts declares the
// same surface in TypeScript; keep the two in step.
#include <napi.h>

#include "addon_data.h"
#include "errors.h"
#include "model_wrap.h"
#include "nrnm/runtime/runtime_info.h"
#include "stream_wrap.h"
#include "tensor_wrap.h"
#include "trainer_wrap.h"

namespace nrnm_binding {

Napi::Value RuntimeInfoJs(const Napi::CallbackInfo& info);
Napi::Value SetThreadsJs(const Napi::CallbackInfo& info);
Napi::Value ProbeCudaJs(const Napi::CallbackInfo& info);
Napi::Object DefineBench(Napi::Env env);
Napi::Value CheckpointMetadataJs(const Napi::CallbackInfo& info);
Napi::Value DefaultOptionsJs(const Napi::CallbackInfo& info);
Napi::Value OptionChoicesJs(const Napi::CallbackInfo& info);

namespace {

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass expects a constructor");
  GetAddonData(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  nrnm::apply_cpu_defaults();  // threads and CPU allocator: README "Performance"
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function tensor = TensorWrap::Define(env);
  data->tensor_class = Napi::Persistent(tensor);
  exports.Set("TensorHandle", tensor);
  exports.Set("ModelHandle", ModelWrap::Define(env));
  exports.Set("TrainerHandle", TrainerWrap::Define(env));
  exports.Set("StreamHandle", StreamWrap::Define(env));
  exports.Set("setErrorClass", Napi::Function::New<SetErrorClass>(env, "setErrorClass"));
  exports.Set("runtimeInfo", Napi::Function::New<RuntimeInfoJs>(env, "runtimeInfo"));
  exports.Set("setThreads", Napi::Function::New<SetThreadsJs>(env, "setThreads"));
  exports.Set("checkpointMetadata", Napi::Function::New<CheckpointMetadataJs>(env, "checkpointMetadata"));
  exports.Set("defaultOptions", Napi::Function::New<DefaultOptionsJs>(env, "defaultOptions"));
  exports.Set("optionChoices", Napi::Function::New<OptionChoicesJs>(env, "optionChoices"));
  exports.Set("probeCuda", Napi::Function::New<ProbeCudaJs>(env, "probeCuda"));
  // Known when compiled: reading them touches no driver (device.ts decides
  // from these before probing CUDA in a child process).
#ifdef NRNM_WITH_CUDA
  exports.Set("builtWithCuda", Napi::Boolean::New(env, true));
#else
  exports.Set("builtWithCuda", Napi::Boolean::New(env, false));
#endif
  exports.Set("variant", Napi::String::New(env, NRNM_TORCH_VARIANT));
  exports.Set("bench", DefineBench(env));
  return exports;
}

}  // namespace
}  // namespace nrnm_binding

static Napi::Object InitNrnmNative(Napi::Env env, Napi::Object exports) { return nrnm_binding::Init(env, exports); }

NODE_API_MODULE(nrnm_native, InitNrnmNative)
