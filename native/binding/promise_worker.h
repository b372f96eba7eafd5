#pragma once
// One Promise-returning AsyncWorker for every slow native call: the work runs
// on the libuv thread pool, never on the event loop; its exception (if any)
// becomes the promise's rejection through ExceptionToJs.
//
// A worker thread terminated while a call runs (worker.terminate() during
// trainer.step) still completes that call: Node runs the completion while it
// tears the worker's environment down, when no JS can run any more. The
// promise can then be neither resolved nor rejected, and nothing is left to
// observe it; trying would throw from a completion callback and abort the
// whole process. So the completion only settles the promise in a live
// environment; either way the worker is deleted with its captured state
// (the model's shared state, tensors, references) afterwards.
#include <exception>
#include <functional>
#include <utility>
#include <vector>

#include <napi.h>

#include "errors.h"

namespace nrnm_binding {

template <typename Result>
class PromiseWorker final : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using ToJs = std::function<Napi::Value(Napi::Env, Result&)>;

  /// Queues `work`; `keep_alive` objects (the model's wrapper, tensors) are
  /// referenced until the promise settles so the GC cannot free them mid-call.
  static Napi::Promise Run(Napi::Env env, const char* where, Work work, ToJs to_js,
                           const std::vector<Napi::Object>& keep_alive = {}) {
    auto* worker = new PromiseWorker(env, where, std::move(work), std::move(to_js));
    for (const auto& object : keep_alive) worker->keep_alive_.push_back(Napi::Persistent(object));
    worker->Queue();
    return worker->deferred_.Promise();
  }

 protected:
  void Execute() override {
    try {
      result_ = work_();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  void OnOK() override {
    if (!CanRunJs(Env())) return;
    Napi::HandleScope scope(Env());
    if (error_) {
      deferred_.Reject(ExceptionToJs(Env(), error_, where_).Value());
      return;
    }
    try {
      deferred_.Resolve(to_js_(Env(), result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(ExceptionToJs(Env(), std::current_exception(), where_).Value());
    }
  }

  void OnError(const Napi::Error& e) override {
    if (CanRunJs(Env())) deferred_.Reject(e.Value());
  }

  /// False while the environment is torn down. Node-API refuses calls into
  /// JS then with napi_pending_exception although no exception is pending.
  static bool CanRunJs(Napi::Env env) {
    Napi::HandleScope scope(env);
    napi_value object = nullptr;
    napi_value value = nullptr;
    if (napi_create_object(env, &object) != napi_ok) return false;
    return napi_get_named_property(env, object, "then", &value) == napi_ok;
  }

 private:
  PromiseWorker(Napi::Env env, const char* where, Work work, ToJs to_js)
      : Napi::AsyncWorker(env, where),
        deferred_(Napi::Promise::Deferred::New(env)),
        where_(where),
        work_(std::move(work)),
        to_js_(std::move(to_js)) {}

  Napi::Promise::Deferred deferred_;
  const char* where_;
  Work work_;
  ToJs to_js_;
  Result result_{};
  std::exception_ptr error_;
  std::vector<Napi::ObjectReference> keep_alive_;
};

}  // namespace nrnm_binding
