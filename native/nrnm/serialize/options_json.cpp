#include "nrnm/serialize/options_json.h"

#include "nrnm/runtime/errors.h"

#include <cmath>
#include <optional>

namespace nrnm {

namespace {

class Reader {
 public:
  Reader(const json::Value& object, const std::string& where) : object_(object), where_(where) {
    if (object.kind != json::Value::Kind::kObject) fail("the model options are not a JSON object");
  }

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(where_ + ": " + what); }

  /// Integers as the API allows them: safe integers (|v| <= 2^53 - 1).
  std::optional<int64_t> integer(const char* key) const {
    const json::Value* v = object_.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->kind != json::Value::Kind::kNumber || !std::isfinite(v->number) || v->number != std::floor(v->number) ||
        std::abs(v->number) > 9007199254740991.0) {
      fail(std::string("the model option ") + key + " is not an integer");
    }
    return static_cast<int64_t>(v->number);
  }

  std::optional<double> number(const char* key) const {
    const json::Value* v = object_.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->kind != json::Value::Kind::kNumber || !std::isfinite(v->number)) {
      fail(std::string("the model option ") + key + " is not a finite number");
    }
    return v->number;
  }

  template <typename Enum>
  std::optional<Enum> choice() const {
    const char* key = EnumNames<Enum>::option;
    const json::Value* v = object_.find(key);
    if (v == nullptr) return std::nullopt;
    const std::optional<Enum> value =
        v->kind == json::Value::Kind::kString ? from_string<Enum>(v->string) : std::nullopt;
    if (!value) fail(std::string("the model option ") + key + " is not one of " + enum_choices<Enum>());
    return value;
  }

 private:
  const json::Value& object_;
  const std::string& where_;
};

}  // namespace

NRNMOptions model_options_from_json(const json::Value& object, const std::string& where) {
  const Reader in(object, where);
  const std::optional<int64_t> input_size = in.integer("inputSize");
  const std::optional<int64_t> classes = in.integer("classes");
  if (!input_size || !classes) in.fail("the model options have no inputSize or no classes");
  NRNMOptions o(*input_size, *classes);
  if (auto v = in.integer("hiddenSize")) o.hidden_size(*v);
  if (auto v = in.integer("layers")) o.layers(*v);
  if (auto v = in.integer("blockLength")) o.block_length(*v);
  if (auto v = in.integer("stride")) o.stride(*v);
  if (auto v = in.integer("heads")) o.heads(*v);
  if (auto v = in.choice<InputAggregation>()) o.input_aggregation(*v);
  if (auto v = in.number("zoneout")) o.zoneout(*v);
  if (auto v = in.choice<ZoneoutMode>()) o.zoneout_mode(*v);
  if (auto v = in.number("memoryDropout")) o.memory_dropout(*v);
  if (auto v = in.choice<MemoryDropoutMode>()) o.memory_dropout_mode(*v);
  if (auto v = in.number("aggregationDropout")) o.aggregation_dropout(*v);
  if (auto v = in.choice<InitScheme>()) o.init(*v);
  if (auto v = in.choice<HeadKind>()) o.head(*v);
  if (auto v = in.choice<Backbone>()) o.backbone(*v);
  if (auto v = in.choice<Task>()) o.task(*v);
  if (auto v = in.choice<AttentionKind>()) o.attention(*v);
  if (auto v = in.integer("seed")) {
    if (*v < 0) in.fail("the model option seed is negative");
    o.seed(static_cast<uint64_t>(*v));
  }
  return o;
}

}  // namespace nrnm
