// defaultOptions(): the C++ defaults of the model and trainer options (the
// TORCH_ARG initialisers), and optionChoices(): the names of every value of
// every option enum (nrnm::EnumNames), under the names src/ uses, so that
// one test (test/options-defaults.test.ts) holds TypeScript's defaults and
// unions to them.
#include <napi.h>

#include "errors.h"
#include "nrnm/distributed/group.h"
#include "nrnm/model/options.h"
#include "nrnm/train/trainer.h"

namespace nrnm_binding {

Napi::Value DefaultOptionsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "defaultOptions", [&]() -> Napi::Value {
    const nrnm::NRNMOptions m(1, 2);  // input size and classes have no default
    Napi::Object model = Napi::Object::New(env);
    model.Set("hiddenSize", static_cast<double>(m.hidden_size()));
    model.Set("layers", static_cast<double>(m.layers()));
    model.Set("blockLength", static_cast<double>(m.block_length()));
    model.Set("stride", static_cast<double>(m.stride()));
    model.Set("heads", static_cast<double>(m.heads()));
    model.Set("inputAggregation", nrnm::to_string(m.input_aggregation()));
    model.Set("zoneout", m.zoneout());
    model.Set("zoneoutMode", nrnm::to_string(m.zoneout_mode()));
    model.Set("memoryDropout", m.memory_dropout());
    model.Set("memoryDropoutMode", nrnm::to_string(m.memory_dropout_mode()));
    model.Set("aggregationDropout", m.aggregation_dropout());
    model.Set("init", nrnm::to_string(m.init()));
    model.Set("head", nrnm::to_string(m.head()));
    model.Set("seed", static_cast<double>(m.seed()));
    model.Set("task", nrnm::to_string(m.task()));
    model.Set("backbone", nrnm::to_string(m.backbone()));
    model.Set("attention", nrnm::to_string(m.attention()));

    const nrnm::TrainerOptions t;
    Napi::Object trainer = Napi::Object::New(env);
    trainer.Set("optimizer", nrnm::to_string(t.optimizer()));
    trainer.Set("lr", t.lr());
    trainer.Set("weightDecay", t.weight_decay());
    trainer.Set("beta1", t.beta1());
    trainer.Set("beta2", t.beta2());
    trainer.Set("eps", t.eps());
    trainer.Set("scheduler", nrnm::to_string(t.scheduler()));
    trainer.Set("stepSize", static_cast<double>(t.step_size()));
    trainer.Set("gamma", t.gamma());
    trainer.Set("tMax", static_cast<double>(t.t_max()));
    trainer.Set("minLr", t.min_lr());
    trainer.Set("patience", static_cast<double>(t.patience()));
    trainer.Set("monitor", nrnm::to_string(t.monitor()));
    trainer.Set("warmupSteps", static_cast<double>(t.warmup_steps()));
    trainer.Set("clip", t.clip_norm());
    trainer.Set("precision", nrnm::to_string(t.precision()));

    Napi::Object out = Napi::Object::New(env);
    out.Set("model", model);
    out.Set("trainer", trainer);
    return out;
  });
}

namespace {

template <typename Enum>
void SetChoices(Napi::Env env, Napi::Object& out) {
  const std::vector<std::string> names = nrnm::enum_names<Enum>();
  Napi::Array array = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) array.Set(i, names[i]);
  out.Set(nrnm::EnumNames<Enum>::option, array);
}

}  // namespace

Napi::Value OptionChoicesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "optionChoices", [&]() -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    SetChoices<nrnm::InputAggregation>(env, out);
    SetChoices<nrnm::ZoneoutMode>(env, out);
    SetChoices<nrnm::MemoryDropoutMode>(env, out);
    SetChoices<nrnm::InitScheme>(env, out);
    SetChoices<nrnm::HeadKind>(env, out);
    SetChoices<nrnm::Backbone>(env, out);
    SetChoices<nrnm::Task>(env, out);
    SetChoices<nrnm::AttentionKind>(env, out);
    SetChoices<nrnm::OptimizerKind>(env, out);
    SetChoices<nrnm::SchedulerKind>(env, out);
    SetChoices<nrnm::Monitor>(env, out);
    SetChoices<nrnm::Precision>(env, out);
    SetChoices<nrnm::DistributedBackend>(env, out);
    return out;
  });
}

}  // namespace nrnm_binding
