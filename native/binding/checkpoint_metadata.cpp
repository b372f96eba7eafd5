// checkpointMetadata(bytes, source) -> Promise<{[key]: string}>: a
// checkpoint's metadata after its checksum and format checks, so that src/
// can read the options and build the model before loading the parameters.
#include <map>
#include <string>

#include <napi.h>

#include "errors.h"
#include "nrnm/serialize/checkpoint.h"
#include "promise_worker.h"

namespace nrnm_binding {

Napi::Value CheckpointMetadataJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "checkpointMetadata", [&]() -> Napi::Value {
    if (!info[0].IsBuffer() || !info[1].IsString()) {
      throw CodedError("ERR_ARG", "checkpointMetadata: expected (Buffer, source name)");
    }
    auto buffer = info[0].As<Napi::Buffer<char>>();
    std::string bytes(buffer.Data(), buffer.Length());
    std::string source = info[1].As<Napi::String>().Utf8Value();
    using Metadata = std::map<std::string, std::string>;
    return PromiseWorker<Metadata>::Run(
        env, "checkpointMetadata",
        [bytes = std::move(bytes), source = std::move(source)]() {
          return nrnm::read_checkpoint_metadata(bytes, source);
        },
        [](Napi::Env env, Metadata& metadata) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          for (const auto& [key, value] : metadata) out.Set(key, value);
          return out;
        });
  });
}

}  // namespace nrnm_binding
