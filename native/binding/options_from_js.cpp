#include "options_from_js.h"

#include <string>
#include <utility>
#include <vector>

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

template <typename Enum>
Enum Choice(const Napi::Object& object, const char* name, std::vector<std::pair<const char*, Enum>> choices) {
  const std::string value = Field(object, name).ToString().Utf8Value();
  for (const auto& [text, choice] : choices) {
    if (value == text) return choice;
  }
  throw CodedError("ERR_ARG", std::string("native options: '") + name + "' has no value '" + value + "'");
}

nrnm::Precision PrecisionField(const Napi::Object& object) {
  const std::string value = Field(object, "precision").ToString().Utf8Value();
  if (const auto precision = nrnm::precision_from_string(value)) return *precision;
  throw CodedError("ERR_ARG", "native options: 'precision' has no value '" + value + "'");
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
      .input_aggregation(Choice<InputAggregation>(
          o, "inputAggregation", {{"dilated", InputAggregation::kDilated}, {"strided", InputAggregation::kStrided}}))
      .zoneout(Real(o, "zoneout"))
      .zoneout_mode(Choice<ZoneoutMode>(o, "zoneoutMode",
                                        {{"shared", ZoneoutMode::kShared}, {"per-step", ZoneoutMode::kPerStep}}))
      .memory_dropout(Real(o, "memoryDropout"))
      .memory_dropout_mode(Choice<MemoryDropoutMode>(
          o, "memoryDropoutMode",
          {{"shared", MemoryDropoutMode::kShared}, {"per-sample", MemoryDropoutMode::kPerSample}}))
      .aggregation_dropout(Real(o, "aggregationDropout"))
      .init(Choice<InitScheme>(o, "init", {{"official", InitScheme::kOfficial}, {"standard", InitScheme::kStandard}}))
      .head(Choice<HeadKind>(o, "head", {{"linear-elu", HeadKind::kLinearElu}, {"linear", HeadKind::kLinear}}))
      .backbone(Choice<Backbone>(o, "backbone",
                                 {{"lstm", Backbone::kLSTM}, {"gru", Backbone::kGRU}, {"rnn", Backbone::kRNN}}))
      .task(Choice<Task>(o, "task",
                         {{"classify-sequence", Task::kClassifySequence},
                          {"classify-steps", Task::kClassifySteps},
                          {"regress-steps", Task::kRegressSteps}}))
      .attention(
          Choice<AttentionKind>(o, "attention", {{"self", AttentionKind::kSelf}, {"linear", AttentionKind::kLinear}}))
      .seed(static_cast<uint64_t>(Int(o, "seed")));
  return options;
}

nrnm::TrainerOptions TrainerOptionsFromJs(const Napi::Object& o) {
  using namespace nrnm;
  TrainerOptions options;
  options
      .optimizer(
          Choice<OptimizerKind>(o, "optimizer", {{"adam", OptimizerKind::kAdam}, {"adamw", OptimizerKind::kAdamW}}))
      .lr(Real(o, "lr"))
      .weight_decay(Real(o, "weightDecay"))
      .beta1(Real(o, "beta1"))
      .beta2(Real(o, "beta2"))
      .eps(Real(o, "eps"))
      .scheduler(
          Choice<SchedulerKind>(o, "scheduler", {{"step", SchedulerKind::kStepLR}, {"none", SchedulerKind::kNone}}))
      .step_size(Int(o, "stepSize"))
      .gamma(Real(o, "gamma"))
      .clip_norm(Real(o, "clip"))
      .precision(PrecisionField(o));
  return options;
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
      .backend(Choice<DistributedBackend>(o, "backend",
                                          {{"gloo", DistributedBackend::kGloo}, {"nccl", DistributedBackend::kNccl}}));
  return options;
}

}  // namespace nrnm_binding
