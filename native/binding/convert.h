#pragma once
// Typed arrays + shapes <-> torch::Tensor. Data is always copied: JS memory
// may move or be collected while LibTorch holds a tensor.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <napi.h>

namespace nrnm_binding {

/// Reads a JS array of non-negative integers as a tensor shape.
std::vector<int64_t> ShapeFromJs(const Napi::Value& value, const char* what);

/// The dtype name used on the TS side ("float32", "int64", ...).
std::string DtypeName(c10::ScalarType type);

/// Copies a Float32Array/Float64Array/Int32Array/BigInt64Array/Uint8Array
/// into a new CPU tensor of `shape`; the element count must match.
at::Tensor TensorFromTypedArray(const Napi::TypedArray& array, const std::vector<int64_t>& shape, const char* what);

/// Copies a tensor (any device) into a new typed array of the matching type.
Napi::TypedArray TypedArrayFromTensor(Napi::Env env, const at::Tensor& tensor);

Napi::Array ShapeToJs(Napi::Env env, at::IntArrayRef shape);

}  // namespace nrnm_binding
