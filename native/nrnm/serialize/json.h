#pragma once

// A small strict JSON reader and string quoting: what the checkpoint format
// (safetensors: a JSON header) needs, hardened for files from anywhere. It
// refuses what RFC 8259 refuses, nesting deeper than kMaxDepth, more than
// kMaxValues values, duplicate object keys, strings that are not UTF-8 and
// strings holding a NUL (which a C string, as the Node binding passes keys,
// would cut: another key); it never reads past the text, and reads in time
// linear in its size.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nrnm {
namespace json {

constexpr int kMaxDepth = 64;
/// Each value costs about 128 bytes parsed, 64 times its smallest text
/// ("0,"): the cap bounds what any text costs to about 64 MiB. A checkpoint
/// header holds about 10 values per tensor.
constexpr size_t kMaxValues = size_t{1} << 18;

/// A parsed JSON value; objects keep their key order.
struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  /// The number's text as written: integers are read from it exactly.
  std::string number_text;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;

  /// The member `key` of an object, or nullptr.
  const Value* find(const std::string& key) const;
  /// Whether this is a number written as an integer in [0, 2^53].
  bool is_count() const;
  /// The value of a count (is_count() must hold).
  int64_t count() const;
};

/// Parses `text`; throws std::invalid_argument saying what and at which
/// byte offset.
Value parse(const std::string& text);

/// `text` as a JSON string literal, with quotes (control characters escaped).
std::string quote(const std::string& text);

/// Longest text from a file that excerpt() quotes whole.
constexpr size_t kMaxExcerpt = 64;

/// `text` from a file, for a message: quote() of at most kMaxExcerpt bytes
/// (cut at a UTF-8 character boundary), followed by "... (N bytes)" when
/// cut, so that a crafted 10 MB name never makes a 10 MB message.
std::string excerpt(const std::string& text);

}  // namespace json
}  // namespace nrnm
