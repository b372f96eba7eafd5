#include "model_wrap.h"

#include <map>
#include <sstream>

#include <ATen/Functions.h>
#include <torch/nn/pimpl.h>

#include "addon_data.h"
#include "convert.h"
#include "errors.h"
#include "nrnm/runtime/device.h"
#include "nrnm/serialize/state_dict.h"
#include "nrnm/train/gradients.h"
#include "options_from_js.h"
#include "promise_worker.h"
#include "tensor_wrap.h"

namespace nrnm_binding {

Napi::Function ModelWrap::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "ModelHandle",
                                    {
                                        InstanceMethod<&ModelWrap::Predict>("predict"),
                                        InstanceMethod<&ModelWrap::LossAndGradients>("lossAndGradients"),
                                        InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
                                        InstanceMethod<&ModelWrap::IsTraining>("isTraining"),
                                        InstanceMethod<&ModelWrap::ParameterNames>("parameterNames"),
                                        InstanceMethod<&ModelWrap::ParameterShapes>("parameterShapes"),
                                        InstanceMethod<&ModelWrap::StateDict>("stateDict"),
                                        InstanceMethod<&ModelWrap::LoadStateDict>("loadStateDict"),
                                        InstanceMethod<&ModelWrap::Device>("device"),
                                        InstanceMethod<&ModelWrap::Describe>("describe"),
                                        InstanceMethod<&ModelWrap::Save>("save"),
                                        InstanceMethod<&ModelWrap::Load>("load"),
                                        InstanceMethod<&ModelWrap::Dispose>("dispose"),
                                    });
  GetAddonData(env).model_class = Napi::Persistent(ctor);
  return ctor;
}

// new ModelHandle(options, device): builds the model on the CPU with the
// options' seed, then moves it to the device.
ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guard(info.Env(), "new NRNMClassifier", [&]() {
    if (!info[0].IsObject() || !info[1].IsString()) {
      throw CodedError("ERR_ARG", "new NRNMClassifier: expected (options, device)");
    }
    nrnm::NRNMOptions options = ModelOptionsFromJs(info[0].As<Napi::Object>());
    const c10::Device device = nrnm::resolve_device(info[1].As<Napi::String>().Utf8Value());
    nrnm::NRNMClassifier model(options);
    model->to(device);
    state_ = std::make_shared<ModelState>(std::move(model), device);
  });
}

std::shared_ptr<ModelState> ModelWrap::StateOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(GetAddonData(value.Env()).model_class.Value())) {
    throw CodedError("ERR_ARG", std::string(what) + ": expected an NRNMClassifier");
  }
  ModelWrap* wrap = Napi::ObjectWrap<ModelWrap>::Unwrap(value.As<Napi::Object>());
  wrap->Live(what);
  return wrap->state_;
}

ModelState& ModelWrap::Live(const char* what) const {
  if (!state_ || state_->disposed) throw CodedError("ERR_DISPOSED", std::string(what) + ": the model was disposed");
  return *state_;
}

Napi::Value ModelWrap::Predict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "model.predict", [&]() -> Napi::Value {
    std::shared_ptr<ModelState> state = StateOf(Value(), "model.predict");
    at::Tensor x = TensorWrap::TensorOf(info[0], "model.predict");
    at::Tensor lengths = TensorWrap::OptionalTensorOf(info[1], "model.predict");
    return PromiseWorker<at::Tensor>::Run(
        env, "model.predict",
        [state, x, lengths]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          at::NoGradGuard no_grad;
          at::Tensor logits = state->model->forward(x, lengths).to(at::kCPU);
          state->Synchronize();
          return logits;
        },
        [](Napi::Env env, at::Tensor& logits) -> Napi::Value { return TensorWrap::New(env, logits); }, {Value()});
  });
}

Napi::Value ModelWrap::LossAndGradients(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "model.lossAndGradients", [&]() -> Napi::Value {
    std::shared_ptr<ModelState> state = StateOf(Value(), "model.lossAndGradients");
    at::Tensor x = TensorWrap::TensorOf(info[0], "model.lossAndGradients");
    at::Tensor y = TensorWrap::TensorOf(info[1], "model.lossAndGradients");
    at::Tensor lengths = TensorWrap::OptionalTensorOf(info[2], "model.lossAndGradients");
    return PromiseWorker<nrnm::LossAndGradients>::Run(
        env, "model.lossAndGradients",
        [state, x, y, lengths]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          return nrnm::loss_and_gradients(state->model, x, y, lengths);
        },
        [](Napi::Env env, nrnm::LossAndGradients& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("loss", r.loss);
          Napi::Object grads = Napi::Object::New(env);
          for (auto& [name, grad] : r.gradients) grads.Set(name, TensorWrap::New(env, grad));
          out.Set("gradients", grads);
          return out;
        },
        {Value()});
  });
}

Napi::Value ModelWrap::SetTraining(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.train", [&]() -> Napi::Value {
    ModelState& state = Live("model.train");
    std::lock_guard<std::mutex> lock(state.mutex);
    state.model->train(info[0].ToBoolean().Value());
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::IsTraining(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.training", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), Live("model.training").model->is_training());
  });
}

Napi::Value ModelWrap::ParameterNames(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.parameterNames", [&]() -> Napi::Value {
    auto params = Live("model.parameterNames").model->named_parameters();
    Napi::Array names = Napi::Array::New(info.Env(), params.size());
    uint32_t i = 0;
    for (const auto& item : params) names.Set(i++, item.key());
    return names;
  });
}

Napi::Value ModelWrap::ParameterShapes(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.parameterShapes", [&]() -> Napi::Value {
    Napi::Object shapes = Napi::Object::New(info.Env());
    for (const auto& item : Live("model.parameterShapes").model->named_parameters()) {
      shapes.Set(item.key(), ShapeToJs(info.Env(), item.value().sizes()));
    }
    return shapes;
  });
}

Napi::Value ModelWrap::StateDict(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.stateDict", [&]() -> Napi::Value {
    ModelState& state = Live("model.stateDict");
    std::lock_guard<std::mutex> lock(state.mutex);
    Napi::Object dict = Napi::Object::New(info.Env());
    for (const auto& item : state.model->named_parameters()) {
      dict.Set(item.key(),
               TensorWrap::New(info.Env(), item.value().detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true)));
    }
    return dict;
  });
}

// loadStateDict({name: TensorHandle}): src/ maps official names and reports
// problems by name first; nrnm::load_state_dict re-checks and copies.
Napi::Value ModelWrap::LoadStateDict(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.loadStateDict", [&]() -> Napi::Value {
    ModelState& state = Live("model.loadStateDict");
    if (!info[0].IsObject()) throw CodedError("ERR_ARG", "model.loadStateDict: expected {name: tensor}");
    Napi::Object dict = info[0].As<Napi::Object>();
    std::map<std::string, at::Tensor> tensors;
    Napi::Array names = dict.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).ToString().Utf8Value();
      tensors.emplace(name, TensorWrap::TensorOf(dict.Get(name), "model.loadStateDict"));
    }
    std::lock_guard<std::mutex> lock(state.mutex);
    nrnm::load_state_dict(*state.model, tensors);
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Device(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.device",
               [&]() -> Napi::Value { return Napi::String::New(info.Env(), Live("model.device").device.str()); });
}

Napi::Value ModelWrap::Describe(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "model.toString", [&]() -> Napi::Value {
    std::ostringstream out;
    Live("model.toString").model->pretty_print(out);
    return Napi::String::New(info.Env(), out.str());
  });
}

// save(header) -> Promise<Buffer>: the checkpoint's bytes (nrnm/serialize/checkpoint.h)
// with the package's JSON header as its "nrnm.header" metadata; src/ writes
// them to disk (one atomic writer for every file).
Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "model.save", [&]() -> Napi::Value {
    std::shared_ptr<ModelState> state = StateOf(Value(), "model.save");
    if (!info[0].IsString()) throw CodedError("ERR_ARG", "model.save: expected the header JSON");
    std::string header = info[0].As<Napi::String>().Utf8Value();
    return PromiseWorker<std::string>::Run(
        env, "model.save",
        [state, header = std::move(header)]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          return nrnm::save_checkpoint(state->Parts(nullptr), {{"nrnm.header", header}});
        },
        [](Napi::Env env, std::string& bytes) -> Napi::Value {
          return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
        },
        {Value()});
  });
}

// load(bytes, source) -> Promise<void>: all or nothing; errors name `source`.
Napi::Value ModelWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "model.load", [&]() -> Napi::Value {
    std::shared_ptr<ModelState> state = StateOf(Value(), "model.load");
    if (!info[0].IsBuffer() || !info[1].IsString()) {
      throw CodedError("ERR_ARG", "model.load: expected (Buffer, source name)");
    }
    auto buffer = info[0].As<Napi::Buffer<char>>();
    std::string bytes(buffer.Data(), buffer.Length());
    std::string source = info[1].As<Napi::String>().Utf8Value();
    return PromiseWorker<bool>::Run(
        env, "model.load",
        [state, bytes = std::move(bytes), source = std::move(source)]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          nrnm::load_checkpoint(bytes, source, state->Parts(nullptr));
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {Value()});
  });
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  if (state_ && !state_->disposed) {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->disposed = true;
    state_->model = nullptr;
  }
  return info.Env().Undefined();
}

}  // namespace nrnm_binding
