#include "nrnm/serialize/safetensors.h"

#include "nrnm/runtime/errors.h"
#include "nrnm/serialize/json.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

namespace nrnm {

namespace {

static_assert(sizeof(void*) == 8, "safetensors offsets are 64-bit; a 64-bit build is required");

// Tensor data is stored little-endian; the hosts LibTorch supports are.
bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};

constexpr DtypeName kDtypes[] = {
    {torch::kFloat, "F32"}, {torch::kDouble, "F64"}, {torch::kHalf, "F16"},  {torch::kBFloat16, "BF16"},
    {torch::kLong, "I64"},  {torch::kInt, "I32"},    {torch::kShort, "I16"}, {torch::kChar, "I8"},
    {torch::kByte, "U8"},   {torch::kBool, "BOOL"},
};

bool dtype_from_name(const std::string& name, torch::ScalarType& type) {
  for (const auto& d : kDtypes) {
    if (name == d.name) {
      type = d.type;
      return true;
    }
  }
  return false;
}

void append_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out += static_cast<char>((v >> (8 * i)) & 0xFF);
  }
}

uint64_t read_u64(const std::string& bytes) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return v;
}

struct Entry {
  std::string name;
  torch::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_ + " is not a valid safetensors checkpoint: " + what);
  }

  TensorFile read() {
    if (bytes_.size() < 8) {
      fail("it is " + std::to_string(bytes_.size()) +
           " bytes long, shorter than the 8-byte header length (truncated?)");
    }
    const uint64_t header_size = read_u64(bytes_);
    if (header_size > kMaxSafetensorsHeader) {
      fail("its header length field says " + std::to_string(header_size) + " bytes, more than the " +
           std::to_string(kMaxSafetensorsHeader) + " allowed");
    }
    if (header_size > bytes_.size() - 8) {
      fail("its header length field says " + std::to_string(header_size) + " bytes but only " +
           std::to_string(bytes_.size() - 8) + " follow (truncated?)");
    }
    json::Value header;
    try {
      header = json::parse(bytes_.substr(8, header_size));
    } catch (const std::invalid_argument& e) {
      fail(std::string("its JSON header is malformed (") + e.what() + ")");
    }
    if (header.kind != json::Value::Kind::kObject) {
      fail("its JSON header is not an object");
    }
    data_begin_ = 8 + header_size;
    data_size_ = bytes_.size() - data_begin_;

    TensorFile file;
    std::vector<Entry> entries;
    for (const auto& [name, value] : header.object) {
      if (name == "__metadata__") {
        read_metadata(value, file.metadata);
      } else {
        entries.push_back(read_entry(name, value));
      }
    }
    check_tiling(entries);
    for (const auto& e : entries) {
      file.tensors.emplace_back(e.name, tensor_of(e));
    }
    return file;
  }

 private:
  void read_metadata(const json::Value& value, std::map<std::string, std::string>& out) const {
    if (value.kind != json::Value::Kind::kObject) {
      fail("its __metadata__ is not an object");
    }
    for (const auto& [key, item] : value.object) {
      if (item.kind != json::Value::Kind::kString) {
        fail("its __metadata__ entry " + json::excerpt(key) + " is not a string");
      }
      out[key] = item.string;
    }
  }

  Entry read_entry(const std::string& name, const json::Value& value) const {
    const std::string what = "tensor " + json::excerpt(name);
    if (value.kind != json::Value::Kind::kObject) {
      fail(what + " is not described by an object");
    }
    Entry e;
    e.name = name;
    const json::Value* dtype = value.find("dtype");
    if (dtype == nullptr || dtype->kind != json::Value::Kind::kString || !dtype_from_name(dtype->string, e.type)) {
      fail(what + " has no dtype this reader knows");
    }
    const json::Value* shape = value.find("shape");
    if (shape == nullptr || shape->kind != json::Value::Kind::kArray || shape->array.size() > 16) {
      fail(what + " has no shape (an array of at most 16 sizes)");
    }
    uint64_t elements = 1;
    for (const auto& dim : shape->array) {
      if (!dim.is_count()) {
        fail(what + " has a shape entry that is not a size");
      }
      const auto size = static_cast<uint64_t>(dim.count());
      if (size != 0 && elements > data_size_ / size) {
        fail(what + " has a shape larger than the file");
      }
      elements *= size;
      e.shape.push_back(dim.count());
    }
    const json::Value* offsets = value.find("data_offsets");
    if (offsets == nullptr || offsets->kind != json::Value::Kind::kArray || offsets->array.size() != 2 ||
        !offsets->array[0].is_count() || !offsets->array[1].is_count()) {
      fail(what + " has no data_offsets [begin, end]");
    }
    e.begin = static_cast<uint64_t>(offsets->array[0].count());
    e.end = static_cast<uint64_t>(offsets->array[1].count());
    if (e.begin > e.end || e.end > data_size_) {
      fail(what + " has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] outside the " +
           std::to_string(data_size_) + " data bytes (truncated?)");
    }
    const uint64_t expected = elements * c10::elementSize(e.type);
    if (e.end - e.begin != expected) {
      fail(what + " has " + std::to_string(e.end - e.begin) + " data bytes but its dtype and shape need " +
           std::to_string(expected));
    }
    return e;
  }

  // The tensors must cover the data exactly once, as the reference
  // implementation requires: no bytes that belong to two tensors or none.
  void check_tiling(std::vector<Entry> entries) const {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
    });
    uint64_t at = 0;
    for (const auto& e : entries) {
      if (e.begin != at) {
        fail("the data of tensor " + json::excerpt(e.name) + " starts at " + std::to_string(e.begin) +
             " but the previous tensor ends at " + std::to_string(at) + " (overlapping or missing bytes)");
      }
      at = e.end;
    }
    if (at != data_size_) {
      fail("its tensors cover " + std::to_string(at) + " of the " + std::to_string(data_size_) + " data bytes");
    }
  }

  torch::Tensor tensor_of(const Entry& e) const {
    torch::Tensor t = torch::empty(e.shape, torch::dtype(e.type));
    if (e.end > e.begin) {
      std::memcpy(t.data_ptr(), bytes_.data() + data_begin_ + e.begin, e.end - e.begin);
    }
    return t;
  }

  const std::string& bytes_;
  const std::string& source_;
  uint64_t data_begin_ = 0;
  uint64_t data_size_ = 0;
};

}  // namespace

const char* safetensors_dtype(torch::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) {
      return d.name;
    }
  }
  throw std::invalid_argument(std::string("safetensors: no dtype name for ") + c10::toString(type));
}

std::string encode_safetensors(const TensorFile& file) {
  TORCH_CHECK(host_is_little_endian(), "safetensors: big-endian hosts are not supported");
  std::vector<torch::Tensor> data;
  std::ostringstream header;
  header << '{';
  bool first = true;
  if (!file.metadata.empty()) {
    header << "\"__metadata__\":{";
    for (const auto& [key, value] : file.metadata) {
      header << (first ? "" : ",") << json::quote(key) << ':' << json::quote(value);
      first = false;
    }
    header << '}';
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    TORCH_CHECK(name != "__metadata__", "safetensors: '__metadata__' cannot name a tensor");
    torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = cpu.numel() * cpu.element_size();
    header << (file.metadata.empty() && data.empty() ? "" : ",") << json::quote(name) << ":{\"dtype\":\""
           << safetensors_dtype(cpu.scalar_type()) << "\",\"shape\":[";
    for (int64_t i = 0; i < cpu.dim(); ++i) {
      header << (i == 0 ? "" : ",") << cpu.size(i);
    }
    header << "],\"data_offsets\":[" << offset << ',' << offset + bytes << "]}";
    offset += bytes;
    data.push_back(std::move(cpu));
  }
  header << '}';
  std::string json = header.str();
  json.append((8 - json.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + json.size() + offset);
  append_u64(out, json.size());
  out += json;
  for (const auto& t : data) {
    out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  }
  return out;
}

TensorFile decode_safetensors(const std::string& bytes, const std::string& source) {
  TORCH_CHECK(host_is_little_endian(), "safetensors: big-endian hosts are not supported");
  return Reader(bytes, source).read();
}

}  // namespace nrnm
