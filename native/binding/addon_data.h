#pragma once
// Per-environment state of the addon: the main thread and every worker
// thread load the addon into an environment of their own, and a JS handle
// (class, constructor, object) belongs to one environment only. So nothing
// that holds one may be static: it lives here, set by Init in each
// environment and deleted with it.
#include <napi.h>

namespace nrnm_binding {

struct AddonData {
  Napi::FunctionReference error_class;   // NRNMError from src/errors.ts
  Napi::FunctionReference tensor_class;  // TensorWrap constructor
  Napi::FunctionReference model_class;   // ModelWrap constructor
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace nrnm_binding
