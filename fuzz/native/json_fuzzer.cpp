// libFuzzer target for the JSON reader (native/nrnm/serialize/json.cpp), which
// reads the header of every checkpoint a user loads. A refusal is
// std::invalid_argument; anything else escaping, a sanitizer report, a hang
// or memory past -rss_limit_mb is a finding. Built by scripts/fuzz/build-native.sh.
#include "nrnm/serialize/json.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

// What parse() accepted, quote() must write back as the same string.
void check_round_trip(const nrnm::json::Value& value, int depth) {
  if (depth > nrnm::json::kMaxDepth + 1) {
    std::abort();  // parse() let nesting past its limit through
  }
  switch (value.kind) {
    case nrnm::json::Value::Kind::kString:
      if (nrnm::json::parse(nrnm::json::quote(value.string)).string != value.string) {
        std::abort();
      }
      break;
    case nrnm::json::Value::Kind::kArray:
      for (const auto& item : value.array) {
        check_round_trip(item, depth + 1);
      }
      break;
    case nrnm::json::Value::Kind::kObject:
      for (const auto& [key, item] : value.object) {
        if (nrnm::json::parse(nrnm::json::quote(key)).string != key) {
          std::abort();
        }
        check_round_trip(item, depth + 1);
      }
      break;
    case nrnm::json::Value::Kind::kNumber:
      if (value.is_count() && value.count() < 0) {
        std::abort();
      }
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nrnm::json::Value value;
  try {
    value = nrnm::json::parse(text);
  } catch (const std::invalid_argument&) {
    return 0;  // a refusal, as documented
  }
  check_round_trip(value, 0);
  return 0;
}
