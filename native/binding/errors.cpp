#include "errors.h"

#include <c10/util/Exception.h>

#include "addon_data.h"
#include "nrnm/runtime/errors.h"

namespace nrnm_binding {

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
  } catch (const nrnm::FormatError& e) {
    code = "ERR_FORMAT";  // the message names the file
    message = e.what();
    prefix = false;
  } catch (const nrnm::ShapeError& e) {
    code = "ERR_SHAPE";  // the message names the tensor and both shapes
    message = e.what();
    prefix = false;
  } catch (const nrnm::DistributedError& e) {
    code = "ERR_DISTRIBUTED";  // the message names the ranks, the store and what differs
    message = e.what();
    prefix = false;
  } catch (const nrnm::NonFiniteError& e) {
    code = "ERR_NON_FINITE";  // nrnm::Trainer::step refused to apply the update
    message = e.what();
  } catch (const c10::OutOfMemoryError& e) {
    // The core's CPU allocator and LibTorch's CUDA allocator throw this type.
    const bool cuda = e.msg().find("CUDA") != std::string::npos;
    code = cuda ? "ERR_CUDA_OOM" : "ERR_OOM";
    message = std::string(e.what_without_backtrace()) +
              (cuda ? " (lower the batch size or the hidden size, or use another GPU)"
                    : " (lower the batch size or the hidden size, or free host memory)");
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
    // LibTorch gives CUDA runtime failures no type of their own.
    if (message.find("CUDA") != std::string::npos || message.find("cuda") != std::string::npos) code = "ERR_CUDA";
  } catch (const std::bad_alloc&) {
    code = "ERR_OOM";
    message = "out of host memory (lower the batch size or the hidden size, or free host memory)";
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
    message = "unknown native exception";
  }
  return MakeError(env, code, prefix ? std::string(where) + ": " + message : message);
}

}  // namespace nrnm_binding
