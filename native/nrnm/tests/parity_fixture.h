#pragma once

// Reads the parity fixtures of test/fixtures/parity (format in its
// README.md): a small JSON reader, raw little-endian tensors at byte offsets,
// and NRNMOptions from the index's camelCase options. Test-only.

#include "nrnm/options.h"

#include <torch/types.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace nrnm_test {

/// A parsed JSON value; objects keep their key order.
struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;

  const Json& operator[](const std::string& key) const {
    for (const auto& [name, value] : object) {
      if (name == key) return value;
    }
    throw std::runtime_error("JSON: no key '" + key + "'");
  }
  bool has(const std::string& key) const {
    for (const auto& item : object) {
      if (item.first == key) return true;
    }
    return false;
  }
  int64_t integer() const { return static_cast<int64_t>(number); }

  static Json parse(const std::string& text) {
    size_t at = 0;
    Json value = parse_value(text, at);
    skip_space(text, at);
    if (at != text.size()) fail(text, at, "trailing characters");
    return value;
  }

 private:
  [[noreturn]] static void fail(const std::string& text, size_t at, const char* what) {
    throw std::runtime_error(std::string("JSON: ") + what + " at offset " + std::to_string(at) + " near '" +
                             text.substr(at, 20) + "'");
  }
  static void skip_space(const std::string& text, size_t& at) {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
  }
  static void expect(const std::string& text, size_t& at, char c) {
    skip_space(text, at);
    if (at >= text.size() || text[at] != c) fail(text, at, "unexpected character");
    ++at;
  }
  static std::string parse_string(const std::string& text, size_t& at) {
    expect(text, at, '"');
    std::string out;
    while (at < text.size() && text[at] != '"') {
      if (text[at] == '\\') {
        ++at;
        if (at >= text.size()) fail(text, at, "bad escape");
        const char e = text[at];
        if (e == 'n')
          out += '\n';
        else if (e == 't')
          out += '\t';
        else if (e == 'u')
          fail(text, at, "\\u escapes are not supported");
        else
          out += e;
      } else {
        out += text[at];
      }
      ++at;
    }
    expect(text, at, '"');
    return out;
  }
  static Json parse_value(const std::string& text, size_t& at) {
    skip_space(text, at);
    if (at >= text.size()) fail(text, at, "unexpected end");
    Json value;
    const char c = text[at];
    if (c == '{') {
      value.kind = Kind::kObject;
      ++at;
      skip_space(text, at);
      if (text[at] == '}') return ++at, value;
      while (true) {
        std::string key = parse_string(text, at);
        expect(text, at, ':');
        value.object.emplace_back(std::move(key), parse_value(text, at));
        skip_space(text, at);
        if (text[at] == ',') {
          ++at;
          continue;
        }
        expect(text, at, '}');
        return value;
      }
    }
    if (c == '[') {
      value.kind = Kind::kArray;
      ++at;
      skip_space(text, at);
      if (text[at] == ']') return ++at, value;
      while (true) {
        value.array.push_back(parse_value(text, at));
        skip_space(text, at);
        if (text[at] == ',') {
          ++at;
          continue;
        }
        expect(text, at, ']');
        return value;
      }
    }
    if (c == '"') {
      value.kind = Kind::kString;
      value.string = parse_string(text, at);
      return value;
    }
    if (text.compare(at, 4, "true") == 0) {
      at += 4;
      value.kind = Kind::kBool;
      value.boolean = true;
      return value;
    }
    if (text.compare(at, 5, "false") == 0) {
      at += 5;
      value.kind = Kind::kBool;
      return value;
    }
    if (text.compare(at, 4, "null") == 0) {
      at += 4;
      return value;
    }
    char* end = nullptr;
    value.number = std::strtod(text.c_str() + at, &end);
    if (end == text.c_str() + at) fail(text, at, "bad value");
    value.kind = Kind::kNumber;
    at = static_cast<size_t>(end - text.c_str());
    return value;
  }
};

inline std::string fixture_dir() { return std::string(NRNM_FIXTURE_DIR) + "/parity"; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Names of the cases (the .json files), sorted.
inline std::vector<std::string> parity_cases() {
  std::vector<std::string> cases;
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
    if (entry.path().extension() == ".json") cases.push_back(entry.path().stem().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

inline Json load_index(const std::string& name) { return Json::parse(read_text(fixture_dir() + "/" + name + ".json")); }

/// One tensor entry {file, offset, dtype, shape}: read as stored (CPU).
inline torch::Tensor read_tensor(const Json& entry) {
  std::vector<int64_t> shape;
  for (const auto& dim : entry["shape"].array) shape.push_back(dim.integer());
  const std::string& dtype = entry["dtype"].string;
  const torch::ScalarType type = dtype == "float32"   ? torch::kFloat
                                 : dtype == "float64" ? torch::kDouble
                                 : dtype == "int64"   ? torch::kLong
                                                      : throw std::runtime_error("unknown dtype " + dtype);
  torch::Tensor tensor = torch::empty(shape, torch::dtype(type));
  std::ifstream in(fixture_dir() + "/" + entry["file"].string, std::ios::binary);
  in.seekg(entry["offset"].integer());
  in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.nbytes()));
  if (!in) throw std::runtime_error("short read in " + entry["file"].string);
  return tensor;
}

inline nrnm::NRNMOptions options_from_json(const Json& o) {
  using namespace nrnm;
  NRNMOptions options(o["inputSize"].integer(), o["classes"].integer());
  options.hidden_size(o["hiddenSize"].integer())
      .layers(o["layers"].integer())
      .block_length(o["blockLength"].integer())
      .stride(o["stride"].integer())
      .heads(o["heads"].integer())
      .input_aggregation(o["inputAggregation"].string == "dilated" ? InputAggregation::kDilated
                                                                   : InputAggregation::kStrided)
      .zoneout(o["zoneout"].number)
      .zoneout_mode(o["zoneoutMode"].string == "shared" ? ZoneoutMode::kShared : ZoneoutMode::kPerStep)
      .memory_dropout(o["memoryDropout"].number)
      .memory_dropout_mode(o["memoryDropoutMode"].string == "shared" ? MemoryDropoutMode::kShared
                                                                     : MemoryDropoutMode::kPerSample)
      .aggregation_dropout(o["aggregationDropout"].number)
      .init(o["init"].string == "official" ? InitScheme::kOfficial : InitScheme::kStandard)
      .head(o["head"].string == "linear-elu" ? HeadKind::kLinearElu : HeadKind::kLinear)
      .seed(static_cast<uint64_t>(o["seed"].integer()));
  return options;
}

}  // namespace nrnm_test
