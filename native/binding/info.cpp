// runtimeInfo(): what the loaded LibTorch can do, for `nrnm-native info`.
#include <napi.h>

#include <ATen/Functions.h>
#include <c10/util/Exception.h>

#include "errors.h"
#include "nrnm/runtime/runtime_info.h"

namespace nrnm_binding {

Napi::Value RuntimeInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "runtimeInfo", [&]() -> Napi::Value {
    const nrnm::RuntimeInfo r = nrnm::runtime_info();
    Napi::Object out = Napi::Object::New(env);
    out.Set("torchVersion", r.torch_version);
    out.Set("builtWithCuda", r.built_with_cuda);
    out.Set("cudaAvailable", r.cuda_available);
    out.Set("cudaRuntimeVersion", static_cast<double>(r.cuda_runtime_version));
    out.Set("cudaDriverVersion", static_cast<double>(r.cuda_driver_version));
    out.Set("cudnnVersion", static_cast<double>(r.cudnn_version));
    out.Set("intraOpThreads", static_cast<double>(r.intra_op_threads));
    out.Set("interOpThreads", static_cast<double>(r.inter_op_threads));
    out.Set("parallelInfo", r.parallel_info);
    out.Set("variant", NRNM_TORCH_VARIANT);
    Napi::Array gpus = Napi::Array::New(env, r.gpus.size());
    for (size_t i = 0; i < r.gpus.size(); ++i) {
      const auto& g = r.gpus[i];
      Napi::Object gpu = Napi::Object::New(env);
      gpu.Set("index", static_cast<double>(g.index));
      gpu.Set("name", g.name);
      gpu.Set("totalMemoryBytes", static_cast<double>(g.total_memory_bytes));
      gpu.Set("computeCapability",
              std::to_string(g.compute_capability_major) + "." + std::to_string(g.compute_capability_minor));
      gpu.Set("multiprocessors", static_cast<double>(g.multiprocessors));
      gpus.Set(static_cast<uint32_t>(i), gpu);
    }
    out.Set("gpus", gpus);
    return out;
  });
}

// probeCuda(): a tiny op on cuda:0. src/device.ts runs it in a child process,
// so a broken driver can only take that process down, never the user's.
Napi::Value ProbeCudaJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  try {
    at::Tensor t = at::ones({4}, at::TensorOptions().device(at::kCUDA, 0));
    const double sum = t.mul(2).sum().item().toDouble();
    out.Set("ok", sum == 8.0);
    if (sum != 8.0) out.Set("error", "a test computation on cuda:0 gave a wrong result");
  } catch (const c10::Error& e) {
    out.Set("ok", false);
    out.Set("error", e.what_without_backtrace());
  } catch (const std::exception& e) {
    out.Set("ok", false);
    out.Set("error", e.what());
  }
  return out;
}

Napi::Value SetThreadsJs(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "setThreads", [&]() -> Napi::Value {
    nrnm::set_threads(info[0].As<Napi::Number>().Int64Value());
    return info.Env().Undefined();
  });
}

}  // namespace nrnm_binding
