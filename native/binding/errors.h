#pragma once
// The one place where C++ exceptions become JS errors. Every binding entry
// point runs its body through Guard (sync) or PromiseWorker (async), so no
// exception ever escapes into Node-API or aborts the process.
#include <exception>
#include <string>
#include <utility>

#include <napi.h>

namespace nrnm_binding {

/// An error with a stable code (ERR_SHAPE, ERR_DISPOSED, ERR_CUDA_OOM, ...).
struct CodedError : std::runtime_error {
  CodedError(std::string code_, const std::string& message) : std::runtime_error(message), code(std::move(code_)) {}
  std::string code;
};

/// Builds an NRNMError (the TS class registered by setErrorClass) or, before
/// registration, a plain Error with a `code` property.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

/// Converts a captured exception: c10::Error first (message without the C++
/// backtrace; CUDA out-of-memory gets ERR_CUDA_OOM), then std::exception,
/// then anything else. `where` names the operation ("model.predict").
Napi::Error ExceptionToJs(Napi::Env env, std::exception_ptr error, const char* where);

/// Runs fn and rethrows any C++ exception as a JS error.
template <typename F>
auto Guard(Napi::Env env, const char* where, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw ExceptionToJs(env, std::current_exception(), where);
  }
}

}  // namespace nrnm_binding
