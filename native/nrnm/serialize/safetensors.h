#pragma once

// The safetensors container (https://github.com/huggingface/safetensors):
//   u64 little-endian N | N bytes of JSON header | data
// The header maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets into the data, which the tensors tile without gaps
// or overlap) and may hold "__metadata__", a map of strings. It is data
// only: reading it runs nothing from the file, and every size is checked
// against the real size of the bytes before anything is allocated.

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nrnm {

/// The content of one safetensors file: string metadata and named tensors
/// (in file order).
struct TensorFile {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
};

/// The file's bytes. Tensors may live on any device and be non-contiguous;
/// their dtypes must be one of float32/float64/float16/bfloat16, int64/32/
/// 16/8, uint8 or bool. The header is padded with spaces to a multiple of 8
/// bytes, as the reference implementation does.
std::string encode_safetensors(const TensorFile& file);

/// Parses and checks `bytes`; the tensors are CPU copies. Throws
/// nrnm::FormatError naming `source` and what is wrong.
TensorFile decode_safetensors(const std::string& bytes, const std::string& source);

/// The safetensors name of a dtype ("F32", "I64", "U8", ...).
const char* safetensors_dtype(torch::ScalarType type);

/// Largest header accepted (the reference implementation's limit).
constexpr uint64_t kMaxSafetensorsHeader = 100 * 1000 * 1000;

}  // namespace nrnm
