#include "nrnm/options.h"

#include <c10/util/Exception.h>

namespace nrnm {

NRNMOptions::NRNMOptions(int64_t input_size, int64_t classes) : input_size_(input_size), classes_(classes) {}

const char* to_string(InputAggregation value) { return value == InputAggregation::kDilated ? "dilated" : "strided"; }

const char* to_string(ZoneoutMode value) { return value == ZoneoutMode::kShared ? "shared" : "per-step"; }

const char* to_string(MemoryDropoutMode value) { return value == MemoryDropoutMode::kShared ? "shared" : "per-sample"; }

const char* to_string(InitScheme value) { return value == InitScheme::kOfficial ? "official" : "standard"; }

const char* to_string(HeadKind value) { return value == HeadKind::kLinearElu ? "linear-elu" : "linear"; }

const char* to_string(Task value) {
  switch (value) {
    case Task::kClassifySequence:
      return "classify-sequence";
    case Task::kClassifySteps:
      return "classify-steps";
    case Task::kRegressSteps:
      return "regress-steps";
  }
  return "unknown";
}

const char* to_string(Backbone value) {
  switch (value) {
    case Backbone::kLSTM:
      return "lstm";
    case Backbone::kGRU:
      return "gru";
    case Backbone::kRNN:
      return "rnn";
  }
  return "unknown";
}

const char* to_string(AttentionKind value) { return value == AttentionKind::kSelf ? "self" : "linear"; }

namespace {

void check_positive(int64_t value, const char* name) {
  TORCH_CHECK(value > 0, name, " must be a positive integer (got ", value, ")");
}

void check_probability(double value, const char* name) {
  // NaN fails both comparisons.
  TORCH_CHECK(value >= 0.0 && value < 1.0, name, " must be in [0, 1) (got ", value, ")");
}

}  // namespace

void validate(const NRNMOptions& o) {
  check_positive(o.input_size(), "inputSize");
  check_positive(o.classes(), "classes");
  check_positive(o.hidden_size(), "hiddenSize");
  check_positive(o.layers(), "layers");
  check_positive(o.block_length(), "blockLength");
  check_positive(o.stride(), "stride");
  check_positive(o.heads(), "heads");
  TORCH_CHECK(o.block_length() % o.stride() == 0, "stride must divide blockLength (got ", o.block_length(), " and ",
              o.stride(), ")");
  TORCH_CHECK(o.hidden_size() % o.heads() == 0, "hiddenSize must be divisible by heads (got ", o.hidden_size(), " and ",
              o.heads(), ")");
  TORCH_CHECK(o.input_aggregation() != InputAggregation::kDilated || (o.block_length() == 10 && o.stride() == 5),
              "inputAggregation 'dilated' needs blockLength 10 and stride 5 (got ", o.block_length(), " and ",
              o.stride(), "); use 'strided' for others");
  check_probability(o.zoneout(), "zoneout");
  check_probability(o.memory_dropout(), "memoryDropout");
  check_probability(o.aggregation_dropout(), "aggregationDropout");
}

}  // namespace nrnm
