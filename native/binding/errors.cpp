#include "errors.h"

#include <c10/util/Exception.h>

#include "addon_data.h"

namespace nrnm_binding {

namespace {

bool Contains(const std::string& text, const char* needle) {
  return text.find(needle) != std::string::npos;
}

}  // namespace

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData& data = GetAddonData(env);
  if (!data.error_class.IsEmpty()) {
    Napi::Object error = data.error_class.New({Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, error);
  }
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

Napi::Error ExceptionToJs(Napi::Env env, std::exception_ptr error, const char* where) {
  std::string code = "ERR_NATIVE";
  std::string message;
  bool prefix = true;  // CodedError messages already name the operation
  try {
    std::rethrow_exception(error);
  } catch (const CodedError& e) {
    code = e.code;
    message = e.what();
    prefix = false;
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
    if (Contains(message, "out of memory")) {
      code = "ERR_CUDA_OOM";
      message += " (lower the batch size or the hidden size, or use another GPU)";
    } else if (Contains(message, " became NaN") || Contains(message, " became infinite")) {
      code = "ERR_NON_FINITE";  // nrnm::Trainer::step refused to apply the update
    } else if (Contains(message, "CUDA") || Contains(message, "cuda")) {
      code = "ERR_CUDA";
    }
  } catch (const std::bad_alloc&) {
    code = "ERR_OOM";
    message = "out of host memory";
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "unknown native exception";
  }
  return MakeError(env, code, prefix ? std::string(where) + ": " + message : message);
}

}  // namespace nrnm_binding
