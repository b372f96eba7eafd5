// defaultOptions(): the C++ defaults of the model and trainer options (the
// TORCH_ARG initialisers), under the names src/ uses, so that one test
// (test/options-defaults.test.ts) holds TypeScript's defaults to them.
#include <napi.h>

#include "errors.h"
#include "nrnm/options.h"
#include "nrnm/trainer.h"

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
    trainer.Set("clip", t.clip_norm());
    trainer.Set("precision", nrnm::to_string(t.precision()));

    Napi::Object out = Napi::Object::New(env);
    out.Set("model", model);
    out.Set("trainer", trainer);
    return out;
  });
}

}  // namespace nrnm_binding
