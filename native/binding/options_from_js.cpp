#include "options_from_js.h"

#include <optional>
#include <string>

#include "errors.h"

namespace nrnm_binding {

namespace {

Napi::Value Field(const Napi::Object& object, const char* name) {
  Napi::Value value = object.Get(name);
  if (value.IsUndefined()) throw CodedError("ERR_ARG", std::string("native options: missing '") + name + "'");
  return value;
}

int64_t Int(const Napi::Object& object, const char* name) {
  Napi::Value value = Field(object, name);
  if (!value.IsNumber()) throw CodedError("ERR_ARG", std::string("native options: '") + name + "' must be a number");
  return value.As<Napi::Number>().Int64Value();
}

double Real(const Napi::Object& object, const char* name) {
  Napi::Value value = Field(object, name);
  if (!value.IsNumber()) throw CodedError("ERR_ARG", std::string("native options: '") + name + "' must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

std::string Text(const Napi::Object& object, const char* name) {
  Napi::Value value = Field(object, name);
  if (!value.IsString()) throw CodedError("ERR_ARG", std::string("native options: '") + name + "' must be a string");
  return value.As<Napi::String>().Utf8Value();
}

bool Flag(const Napi::Object& object, const char* name) {
  Napi::Value value = Field(object, name);
  if (!value.IsBoolean()) throw CodedError("ERR_ARG", std::string("native options: '") + name + "' must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

// The option of Enum, read by its own name (nrnm::EnumNames<Enum>::option).
template <typename Enum>
Enum Choice(const Napi::Object& object) {
  const char* name = nrnm::EnumNames<Enum>::option;
  const std::string value = Field(object, name).ToString().Utf8Value();
  if (const std::optional<Enum> choice = nrnm::from_string<Enum>(value)) return *choice;
  throw CodedError("ERR_ARG", std::string("native options: '") + name + "' has no value '" + value + "' (expected " +
                                  nrnm::enum_choices<Enum>() + ")");
}

}  // namespace

nrnm::NRNMOptions ModelOptionsFromJs(const Napi::Object& o) {
  using namespace nrnm;
  NRNMOptions options(Int(o, "inputSize"), Int(o, "classes"));
  options.hidden_size(Int(o, "hiddenSize"))
      .layers(Int(o, "layers"))
      .block_length(Int(o, "blockLength"))
      .stride(Int(o, "stride"))
      .heads(Int(o, "heads"))
      .input_aggregation(Choice<InputAggregation>(o))
      .zoneout(Real(o, "zoneout"))
      .zoneout_mode(Choice<ZoneoutMode>(o))
      .memory_dropout(Real(o, "memoryDropout"))
      .memory_dropout_mode(Choice<MemoryDropoutMode>(o))
      .aggregation_dropout(Real(o, "aggregationDropout"))
      .init(Choice<InitScheme>(o))
      .head(Choice<HeadKind>(o))
      .backbone(Choice<Backbone>(o))
      .task(Choice<Task>(o))
      .attention(Choice<AttentionKind>(o))
      .seed(static_cast<uint64_t>(Int(o, "seed")));
  return options;
}

nrnm::TrainerOptions TrainerOptionsFromJs(const Napi::Object& o) {
  using namespace nrnm;
  TrainerOptions options;
  options.optimizer(Choice<OptimizerKind>(o))
      .lr(Real(o, "lr"))
      .weight_decay(Real(o, "weightDecay"))
      .beta1(Real(o, "beta1"))
      .beta2(Real(o, "beta2"))
      .eps(Real(o, "eps"))
      .scheduler(Choice<SchedulerKind>(o))
      .step_size(Int(o, "stepSize"))
      .gamma(Real(o, "gamma"))
      .t_max(Int(o, "tMax"))
      .min_lr(Real(o, "minLr"))
      .patience(Int(o, "patience"))
      .monitor(Choice<Monitor>(o))
      .warmup_steps(Int(o, "warmupSteps"))
      .clip_norm(Real(o, "clip"))
      .precision(Choice<Precision>(o));
  return options;
}

/// [[name, value], ...] of strings: what every rank must give alike.
nrnm::Facts FactsFromJs(const Napi::Value& value, const char* name) {
  const std::string bad = std::string(name) + " must be an array of [name, value] strings";
  if (!value.IsArray()) throw CodedError("ERR_ARG", bad);
  Napi::Array array = value.As<Napi::Array>();
  nrnm::Facts facts;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value pair = array.Get(i);
    if (!pair.IsArray() || pair.As<Napi::Array>().Length() != 2) throw CodedError("ERR_ARG", bad);
    Napi::Value a = pair.As<Napi::Array>().Get(0u), b = pair.As<Napi::Array>().Get(1u);
    if (!a.IsString() || !b.IsString()) throw CodedError("ERR_ARG", bad);
    facts.emplace_back(a.As<Napi::String>().Utf8Value(), b.As<Napi::String>().Utf8Value());
  }
  return facts;
}

nrnm::DistributedOptions DistributedOptionsFromJs(const Napi::Object& o) {
  using namespace nrnm;
  DistributedOptions options(Int(o, "rank"), Int(o, "worldSize"));
  options.store_file(Text(o, "storeFile"))
      .master_addr(Text(o, "masterAddr"))
      .master_port(Int(o, "masterPort"))
      .host_store(Flag(o, "hostStore"))
      .store_prefix(Text(o, "storePrefix"))
      .interface(Text(o, "interface"))
      .timeout_seconds(Real(o, "timeout"))
      .agreement(FactsFromJs(Field(o, "agreement"), "native options: 'agreement'"))
      .backend(Choice<DistributedBackend>(o));
  return options;
}

}  // namespace nrnm_binding
