#pragma once
// Per-environment state of the addon (worker threads each get their own).
#include <napi.h>

namespace nrnm_binding {

struct AddonData {
  Napi::FunctionReference error_class;   // NRNMError from src/errors.ts
  Napi::FunctionReference tensor_class;  // TensorWrap constructor
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace nrnm_binding
