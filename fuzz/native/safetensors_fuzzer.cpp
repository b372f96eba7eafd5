// libFuzzer target for the safetensors reader (native/nrnm/serialize/
// safetensors.cpp), the first reader of every .nrnm checkpoint. A refusal is
// nrnm::FormatError; any other exception (c10::Error, std::bad_alloc, ...), a
// sanitizer report, a hang or memory past -rss_limit_mb is a finding. What it
// accepts must encode and decode again to the same names and sizes. Built by
// scripts/fuzz/build-native.sh.
#include "nrnm/runtime/errors.h"
#include "nrnm/serialize/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  nrnm::TensorFile file;
  try {
    file = nrnm::decode_safetensors(bytes, "fuzz.nrnm");
  } catch (const nrnm::FormatError&) {
    return 0;  // a refusal, as documented
  }
  const nrnm::TensorFile again = nrnm::decode_safetensors(nrnm::encode_safetensors(file), "re-encoded");
  if (again.metadata != file.metadata || again.tensors.size() != file.tensors.size()) {
    std::abort();
  }
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const auto& [name, tensor] = file.tensors[i];
    const torch::Tensor& copy = again.tensors[i].second;
    // Bytes, not values: NaN payloads must survive too.
    if (again.tensors[i].first != name || copy.scalar_type() != tensor.scalar_type() ||
        copy.sizes() != tensor.sizes() ||
        (tensor.numel() > 0 &&
         std::memcmp(copy.data_ptr(), tensor.data_ptr(), tensor.numel() * tensor.element_size()) != 0)) {
      std::abort();
    }
  }
  return 0;
}
