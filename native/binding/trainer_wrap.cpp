#include "trainer_wrap.h"

#include "convert.h"
#include "errors.h"
#include "model_wrap.h"
#include "options_from_js.h"
#include "promise_worker.h"
#include "tensor_wrap.h"

#include <optional>

namespace nrnm_binding {

Napi::Function TrainerWrap::Define(Napi::Env env) {
  return DefineClass(env, "TrainerHandle",
                     {
                         InstanceMethod<&TrainerWrap::Step>("step"),
                         InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
                         InstanceMethod<&TrainerWrap::Lr>("lr"),
                         InstanceMethod<&TrainerWrap::SetLr>("setLr"),
                         InstanceMethod<&TrainerWrap::EndEpoch>("endEpoch"),
                         InstanceMethod<&TrainerWrap::Counts>("counts"),
                         InstanceMethod<&TrainerWrap::Save>("save"),
                         InstanceMethod<&TrainerWrap::Load>("load"),
                         InstanceMethod<&TrainerWrap::Dispose>("dispose"),
                         InstanceMethod<&TrainerWrap::Join>("join"),
                         InstanceMethod<&TrainerWrap::SumOverRanks>("sumOverRanks"),
                         InstanceMethod<&TrainerWrap::AgreeOverRanks>("agreeOverRanks"),
                     });
}

// new TrainerHandle(modelHandle, options)
TrainerWrap::TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
  Guard(info.Env(), "new Trainer", [&]() {
    state_ = ModelWrap::StateOf(info[0], "new Trainer");
    if (!info[1].IsObject()) throw CodedError("ERR_ARG", "new Trainer: expected (model, options)");
    nrnm::TrainerOptions options = TrainerOptionsFromJs(info[1].As<Napi::Object>());
    std::lock_guard<std::mutex> lock(state_->mutex);
    trainer_ = std::make_shared<nrnm::Trainer>(state_->model, options);
    model_ = Napi::Persistent(info[0].As<Napi::Object>());
  });
}

std::shared_ptr<ModelState> TrainerWrap::Live(const char* what) const {
  if (!trainer_) throw CodedError("ERR_DISPOSED", std::string(what) + ": the trainer was disposed");
  if (state_->disposed) throw CodedError("ERR_DISPOSED", std::string(what) + ": the trainer's model was disposed");
  return state_;
}

Napi::Value TrainerWrap::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.step", [&]() -> Napi::Value {
    auto state = Live("trainer.step");
    auto trainer = trainer_;
    at::Tensor x = TensorWrap::TensorOf(info[0], "trainer.step");
    at::Tensor y = TensorWrap::TensorOf(info[1], "trainer.step");
    at::Tensor lengths = TensorWrap::OptionalTensorOf(info[2], "trainer.step");
    return PromiseWorker<nrnm::StepResult>::Run(
        env, "trainer.step",
        [state, trainer, x, y, lengths]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          nrnm::StepResult r = trainer->step(x, y, lengths);
          state->Synchronize();
          return r;
        },
        [](Napi::Env env, nrnm::StepResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("loss", r.loss);
          out.Set("correct", static_cast<double>(r.correct));
          out.Set("gradNorm", r.grad_norm);
          out.Set("samples", static_cast<double>(r.samples));
          out.Set("allreduceMs", r.allreduce_ms);
          out.Set("targets", static_cast<double>(r.targets));
          return out;
        },
        {Value(), model_.Value()});
  });
}

Napi::Value TrainerWrap::Evaluate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.evaluate", [&]() -> Napi::Value {
    auto state = Live("trainer.evaluate");
    auto trainer = trainer_;
    at::Tensor x = TensorWrap::TensorOf(info[0], "trainer.evaluate");
    at::Tensor y = TensorWrap::TensorOf(info[1], "trainer.evaluate");
    at::Tensor lengths = TensorWrap::OptionalTensorOf(info[2], "trainer.evaluate");
    return PromiseWorker<nrnm::EvalResult>::Run(
        env, "trainer.evaluate",
        [state, trainer, x, y, lengths]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          nrnm::EvalResult r = trainer->evaluate(x, y, lengths);
          r.logits = r.logits.to(at::kCPU);
          return r;
        },
        [](Napi::Env env, nrnm::EvalResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("lossSum", r.loss_sum);
          out.Set("correct", static_cast<double>(r.correct));
          out.Set("targets", static_cast<double>(r.targets));
          out.Set("logits", TensorWrap::New(env, r.logits));
          return out;
        },
        {Value(), model_.Value()});
  });
}

Napi::Value TrainerWrap::Lr(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "trainer.lr", [&]() -> Napi::Value {
    auto state = Live("trainer.lr");
    std::lock_guard<std::mutex> lock(state->mutex);
    return Napi::Number::New(info.Env(), trainer_->lr());
  });
}

Napi::Value TrainerWrap::SetLr(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "trainer.setLr", [&]() -> Napi::Value {
    auto state = Live("trainer.setLr");
    std::lock_guard<std::mutex> lock(state->mutex);
    trainer_->set_lr(info[0].As<Napi::Number>().DoubleValue());
    return info.Env().Undefined();
  });
}

Napi::Value TrainerWrap::EndEpoch(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "trainer.endEpoch", [&]() -> Napi::Value {
    auto state = Live("trainer.endEpoch");
    std::lock_guard<std::mutex> lock(state->mutex);
    // The plateau's metric: the epoch's evaluation, when there was one.
    std::optional<double> metric;
    if (info.Length() > 0 && info[0].IsNumber()) metric = info[0].As<Napi::Number>().DoubleValue();
    trainer_->end_epoch(metric);
    return info.Env().Undefined();
  });
}

Napi::Value TrainerWrap::Counts(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "trainer.counts", [&]() -> Napi::Value {
    auto state = Live("trainer.counts");
    std::lock_guard<std::mutex> lock(state->mutex);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("steps", static_cast<double>(trainer_->step_count()));
    out.Set("epochs", static_cast<double>(trainer_->epoch_count()));
    return out;
  });
}

// save(header) -> Promise<Buffer>: the checkpoint's bytes (nrnm/serialize/checkpoint.h)
// with the package's JSON header as its "nrnm.header" metadata; src/ writes
// them to disk (one atomic writer for every file).
Napi::Value TrainerWrap::Save(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.save", [&]() -> Napi::Value {
    auto state = Live("trainer.save");
    auto trainer = trainer_;
    if (!info[0].IsString()) throw CodedError("ERR_ARG", "trainer.save: expected the header JSON");
    std::string header = info[0].As<Napi::String>().Utf8Value();
    return PromiseWorker<std::string>::Run(
        env, "trainer.save",
        [state, trainer, header = std::move(header)]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          return nrnm::save_checkpoint(state->Parts(trainer.get()), {{"nrnm.header", header}});
        },
        [](Napi::Env env, std::string& bytes) -> Napi::Value {
          return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
        },
        {Value(), model_.Value()});
  });
}

// load(bytes, source) -> Promise<void>: all or nothing; errors name `source`.
Napi::Value TrainerWrap::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.load", [&]() -> Napi::Value {
    auto state = Live("trainer.load");
    auto trainer = trainer_;
    if (!info[0].IsBuffer() || !info[1].IsString()) {
      throw CodedError("ERR_ARG", "trainer.load: expected (Buffer, source name)");
    }
    auto buffer = info[0].As<Napi::Buffer<char>>();
    std::string bytes(buffer.Data(), buffer.Length());
    std::string source = info[1].As<Napi::String>().Utf8Value();
    return PromiseWorker<bool>::Run(
        env, "trainer.load",
        [state, trainer, bytes = std::move(bytes), source = std::move(source)]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          nrnm::load_checkpoint(bytes, source, state->Parts(trainer.get()));
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {Value(), model_.Value()});
  });
}

Napi::Value TrainerWrap::Dispose(const Napi::CallbackInfo& info) {
  trainer_.reset();
  model_.Reset();
  return info.Env().Undefined();
}

}  // namespace nrnm_binding

namespace nrnm_binding {

// join(options) -> Promise<void>: meets the other ranks (blocks a worker
// thread until they all joined); nrnm::Trainer::join takes rank 0's weights
// and gives this rank its own dropout / zoneout stream.
Napi::Value TrainerWrap::Join(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.join", [&]() -> Napi::Value {
    auto state = Live("trainer.join");
    auto trainer = trainer_;
    if (!info[0].IsObject()) throw CodedError("ERR_ARG", "trainer.join: expected the distributed options");
    nrnm::DistributedOptions options = DistributedOptionsFromJs(info[0].As<Napi::Object>());
    return PromiseWorker<bool>::Run(
        env, "trainer.join",
        [state, trainer, options]() {
          auto group = std::make_shared<nrnm::DistributedGroup>(options);
          std::lock_guard<std::mutex> lock(state->mutex);
          trainer->join(group, &state->model->generator);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {Value(), model_.Value()});
  });
}

// sumOverRanks(numbers) -> Promise<number[]>: each number summed over the ranks.
Napi::Value TrainerWrap::SumOverRanks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.sumOverRanks", [&]() -> Napi::Value {
    auto state = Live("trainer.sumOverRanks");
    auto trainer = trainer_;
    if (!info[0].IsArray()) throw CodedError("ERR_ARG", "trainer.sumOverRanks: expected an array of numbers");
    Napi::Array array = info[0].As<Napi::Array>();
    std::vector<double> values;
    for (uint32_t i = 0; i < array.Length(); ++i) values.push_back(array.Get(i).ToNumber().DoubleValue());
    return PromiseWorker<std::vector<double>>::Run(
        env, "trainer.sumOverRanks",
        [state, trainer, values]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          return trainer->sum_over_ranks(values);
        },
        [](Napi::Env env, std::vector<double>& sums) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, sums.size());
          for (uint32_t i = 0; i < sums.size(); ++i) out.Set(i, sums[i]);
          return out;
        },
        {Value(), model_.Value()});
  });
}

// agreeOverRanks([[name, value], ...], what) -> Promise<void>: every rank
// gives the same facts, or all fail naming the differences.
Napi::Value TrainerWrap::AgreeOverRanks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "trainer.agreeOverRanks", [&]() -> Napi::Value {
    auto state = Live("trainer.agreeOverRanks");
    auto trainer = trainer_;
    if (!info[1].IsString()) throw CodedError("ERR_ARG", "trainer.agreeOverRanks: expected (facts, what)");
    nrnm::Facts facts = FactsFromJs(info[0], "trainer.agreeOverRanks: facts");
    std::string what = info[1].As<Napi::String>().Utf8Value();
    return PromiseWorker<bool>::Run(
        env, "trainer.agreeOverRanks",
        [state, trainer, facts = std::move(facts), what = std::move(what)]() {
          std::lock_guard<std::mutex> lock(state->mutex);
          trainer->agree_over_ranks(facts, what);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, {Value(), model_.Value()});
  });
}

}  // namespace nrnm_binding
