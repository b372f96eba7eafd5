#pragma once

// Reads the parity fixtures of test/fixtures/parity (format in its
// README.md): the index through the core's JSON reader (serialize/json.h),
// raw little-endian tensors at byte offsets. The index's camelCase options
// are read by the core's own model_options_from_json. Test-only.

#include "nrnm/serialize/json.h"

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nrnm_test {

using Json = nrnm::json::Value;

/// The member `key` of a JSON object; throws naming the key when absent.
inline const Json& at(const Json& object, const std::string& key) {
  const Json* value = object.find(key);
  if (value == nullptr) throw std::runtime_error("parity fixture: no key '" + key + "'");
  return *value;
}

inline int64_t integer(const Json& value) { return static_cast<int64_t>(value.number); }

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

inline Json load_index(const std::string& name) {
  return nrnm::json::parse(read_text(fixture_dir() + "/" + name + ".json"));
}

/// One tensor entry {file, offset, dtype, shape}: read as stored (CPU).
inline torch::Tensor read_tensor(const Json& entry) {
  std::vector<int64_t> shape;
  for (const auto& dim : at(entry, "shape").array) shape.push_back(integer(dim));
  const std::string& dtype = at(entry, "dtype").string;
  const torch::ScalarType type = dtype == "float32"   ? torch::kFloat
                                 : dtype == "float64" ? torch::kDouble
                                 : dtype == "int64"   ? torch::kLong
                                                      : throw std::runtime_error("unknown dtype " + dtype);
  torch::Tensor tensor = torch::empty(shape, torch::dtype(type));
  const std::string& file = at(entry, "file").string;
  std::ifstream in(fixture_dir() + "/" + file, std::ios::binary);
  in.seekg(integer(at(entry, "offset")));
  in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.nbytes()));
  if (!in) throw std::runtime_error("short read in " + file);
  return tensor;
}

}  // namespace nrnm_test
