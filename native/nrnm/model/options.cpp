#include "nrnm/model/options.h"

#include <c10/util/Exception.h>

namespace nrnm {

NRNMOptions::NRNMOptions(int64_t input_size, int64_t classes) : input_size_(input_size), classes_(classes) {}

namespace rules {

void positive(int64_t value, const char* name) {
  TORCH_CHECK(value > 0, name, " must be a positive integer (got ", value, ")");
}

void probability(double value, const char* name) {
  // NaN fails both comparisons.
  TORCH_CHECK(value >= 0.0 && value < 1.0, name, " must be in [0, 1) (got ", value, ")");
}

void block(int64_t block_length, int64_t stride) {
  positive(block_length, "blockLength");
  positive(stride, "stride");
  TORCH_CHECK(block_length % stride == 0, "stride must divide blockLength (got ", block_length, " and ", stride, ")");
}

void aggregation(InputAggregation aggregation, int64_t block_length, int64_t stride) {
  TORCH_CHECK(aggregation != InputAggregation::kDilated || (block_length == 10 && stride == 5),
              "inputAggregation 'dilated' needs blockLength 10 and stride 5 (got ", block_length, " and ", stride,
              "); use 'strided' for others");
}

void heads(int64_t hidden_size, int64_t heads) {
  positive(hidden_size, "hiddenSize");
  positive(heads, "heads");
  TORCH_CHECK(hidden_size % heads == 0, "hiddenSize must be divisible by heads (got ", hidden_size, " and ", heads,
              ")");
}

}  // namespace rules

void validate(const NRNMOptions& o) {
  rules::positive(o.input_size(), "inputSize");
  rules::positive(o.classes(), "classes");
  rules::positive(o.layers(), "layers");
  rules::block(o.block_length(), o.stride());
  rules::heads(o.hidden_size(), o.heads());
  rules::aggregation(o.input_aggregation(), o.block_length(), o.stride());
  rules::probability(o.zoneout(), "zoneout");
  rules::probability(o.memory_dropout(), "memoryDropout");
  rules::probability(o.aggregation_dropout(), "aggregationDropout");
}

}  // namespace nrnm
