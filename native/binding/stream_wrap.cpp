#include "stream_wrap.h"

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/grad_mode.h>

#include "errors.h"
#include "model_wrap.h"
#include "promise_worker.h"
#include "tensor_wrap.h"

namespace nrnm_binding {

Napi::Function StreamWrap::Define(Napi::Env env) {
  return DefineClass(env, "StreamHandle",
                     {
                         InstanceMethod<&StreamWrap::Push>("push"),
                         InstanceMethod<&StreamWrap::Reset>("reset"),
                         InstanceMethod<&StreamWrap::Dispose>("dispose"),
                     });
}

StreamWrap::StreamWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StreamWrap>(info) {
  Guard(info.Env(), "model.stream", [&]() {
    state_ = ModelWrap::StateOf(info[0], "model.stream");
    stream_ = std::make_shared<nrnm::NRNMStreamState>();
    model_ = Napi::Persistent(info[0].As<Napi::Object>());
  });
}

std::shared_ptr<ModelState> StreamWrap::Live(const char* what) const {
  if (!stream_) throw CodedError("ERR_DISPOSED", std::string(what) + ": the stream was disposed");
  if (state_->disposed) throw CodedError("ERR_DISPOSED", std::string(what) + ": the stream's model was disposed");
  return state_;
}

// push(x [B, S, F]) -> Promise<TensorHandle [B, S, C]> on the CPU.
Napi::Value StreamWrap::Push(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "stream.push", [&]() -> Napi::Value {
    auto state = Live("stream.push");
    auto stream = stream_;
    at::Tensor x = TensorWrap::TensorOf(info[0], "stream.push");
    return PromiseWorker<at::Tensor>::Run(
        env, "stream.push",
        [state, stream, x]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          if (state->disposed) throw CodedError("ERR_DISPOSED", "stream.push: the stream's model was disposed");
          at::NoGradGuard no_grad;
          at::Tensor outputs = state->model->forward_chunk(x, *stream).to(at::kCPU);
          state->Synchronize();
          return outputs;
        },
        [](Napi::Env env, at::Tensor& outputs) -> Napi::Value { return TensorWrap::New(env, outputs); },
        {Value(), model_.Value()});
  });
}

// reset(rows?: number[]) -> Promise: all rows (the next push may bring
// another batch) or the given rows back to step 0 (src/ queues it after the
// pushes before it and checks the rows).
Napi::Value StreamWrap::Reset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "stream.reset", [&]() -> Napi::Value {
    auto state = Live("stream.reset");
    auto stream = stream_;
    const bool all = info[0].IsUndefined();
    std::vector<int64_t> rows;
    if (!all) {
      if (!info[0].IsArray()) throw CodedError("ERR_ARG", "stream.reset: expected an array of rows");
      const Napi::Array array = info[0].As<Napi::Array>();
      for (uint32_t i = 0; i < array.Length(); ++i) {
        const Napi::Value row = array.Get(i);
        if (!row.IsNumber()) throw CodedError("ERR_ARG", "stream.reset: expected an array of rows");
        rows.push_back(row.As<Napi::Number>().Int64Value());
      }
    }
    return PromiseWorker<bool>::Run(
        env, "stream.reset",
        [state, stream, all, rows]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          if (all) {
            stream->reset();
          } else {
            stream->reset(rows);
          }
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {Value(), model_.Value()});
  });
}

Napi::Value StreamWrap::Dispose(const Napi::CallbackInfo& info) {
  stream_.reset();
  if (!model_.IsEmpty()) model_.Reset();
  return info.Env().Undefined();
}

}  // namespace nrnm_binding
