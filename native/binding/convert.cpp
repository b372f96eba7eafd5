#include "convert.h"

#include <cstring>
#include <sstream>

#include <ATen/Functions.h>

#include "errors.h"

namespace nrnm_binding {

namespace {

struct TypedArrayKind {
  napi_typedarray_type napi;
  c10::ScalarType torch;
  const char* name;
};

constexpr TypedArrayKind kKinds[] = {
    {napi_float32_array, c10::kFloat, "float32"}, {napi_float64_array, c10::kDouble, "float64"},
    {napi_int32_array, c10::kInt, "int32"},       {napi_bigint64_array, c10::kLong, "int64"},
    {napi_uint8_array, c10::kByte, "uint8"},
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

}  // namespace

std::vector<int64_t> ShapeFromJs(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw CodedError("ERR_SHAPE", std::string(what) + ": shape must be an array of integers");
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value dim = array.Get(i);
    double d = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
    if (d < 0 || d != static_cast<double>(static_cast<int64_t>(d))) {
      throw CodedError("ERR_SHAPE", std::string(what) + ": shape entries must be non-negative integers");
    }
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

std::string DtypeName(c10::ScalarType type) {
  for (const auto& kind : kKinds) {
    if (kind.torch == type) return kind.name;
  }
  return c10::toString(type);
}

at::Tensor TensorFromTypedArray(const Napi::TypedArray& array, const std::vector<int64_t>& shape, const char* what) {
  const TypedArrayKind* kind = nullptr;
  for (const auto& k : kKinds) {
    if (k.napi == array.TypedArrayType()) kind = &k;
  }
  if (kind == nullptr) {
    throw CodedError("ERR_DTYPE", std::string(what) +
                                      ": data must be a Float32Array, Float64Array, Int32Array, "
                                      "BigInt64Array or Uint8Array");
  }
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  if (numel != static_cast<int64_t>(array.ElementLength())) {
    throw CodedError("ERR_SHAPE", std::string(what) + ": shape " + ShapeString(shape) + " needs " +
                                      std::to_string(numel) + " elements but the " + kind->name + " data has " +
                                      std::to_string(array.ElementLength()));
  }
  at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(kind->torch));
  const auto* bytes = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  if (array.ByteLength() > 0) std::memcpy(tensor.data_ptr(), bytes, array.ByteLength());
  return tensor;
}

Napi::TypedArray TypedArrayFromTensor(Napi::Env env, const at::Tensor& tensor) {
  at::Tensor cpu = tensor.to(at::kCPU).contiguous();
  const TypedArrayKind* kind = nullptr;
  for (const auto& k : kKinds) {
    if (k.torch == cpu.scalar_type()) kind = &k;
  }
  if (kind == nullptr) {
    throw CodedError("ERR_DTYPE",
                     "tensor dtype " + std::string(c10::toString(cpu.scalar_type())) + " has no matching typed array");
  }
  const size_t bytes = cpu.numel() * cpu.element_size();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), cpu.data_ptr(), bytes);
  const size_t length = static_cast<size_t>(cpu.numel());
  switch (kind->napi) {
    case napi_float32_array:
      return Napi::Float32Array::New(env, length, buffer, 0);
    case napi_float64_array:
      return Napi::Float64Array::New(env, length, buffer, 0);
    case napi_int32_array:
      return Napi::Int32Array::New(env, length, buffer, 0);
    case napi_bigint64_array:
      return Napi::BigInt64Array::New(env, length, buffer, 0);
    default:
      return Napi::Uint8Array::New(env, length, buffer, 0);
  }
}

Napi::Array ShapeToJs(Napi::Env env, at::IntArrayRef shape) {
  Napi::Array array = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    array.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(shape[i])));
  return array;
}

}  // namespace nrnm_binding
