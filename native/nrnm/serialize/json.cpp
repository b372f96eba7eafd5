#include "nrnm/serialize/json.h"

#include <cstdlib>
#include <stdexcept>
#include <unordered_set>

namespace nrnm {
namespace json {

namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : text_(text) {}

  Value document() {
    Value value = parse_value(0);
    skip_space();
    if (at_ != text_.size()) {
      fail("unexpected text after the end of the JSON value");
    }
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(what + " at byte " + std::to_string(at_));
  }

  bool done() const { return at_ >= text_.size(); }

  char peek() const { return done() ? '\0' : text_[at_]; }

  void skip_space() {
    while (!done() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) {
      fail(std::string("expected '") + c + "'");
    }
    ++at_;
  }

  bool literal(const char* word) {
    const std::string w(word);
    if (text_.compare(at_, w.size(), w) != 0) {
      return false;
    }
    at_ += w.size();
    return true;
  }

  Value parse_value(int depth) {
    if (depth > kMaxDepth) {
      fail("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    if (++values_ > kMaxValues) {
      fail("more than " + std::to_string(kMaxValues) + " JSON values");
    }
    skip_space();
    if (done()) {
      fail("unexpected end of the JSON text");
    }
    Value value;
    const char c = peek();
    if (c == '{') {
      value.kind = Value::Kind::kObject;
      ++at_;
      skip_space();
      if (peek() == '}') {
        ++at_;
        return value;
      }
      // A set, not a search of the keys so far: that was quadratic, and a
      // 590 KB header of 60,000 keys took 44 s to read.
      std::unordered_set<std::string> keys;
      while (true) {
        skip_space();
        std::string key = parse_string();
        if (!keys.insert(key).second) {
          fail("duplicate key " + excerpt(key));
        }
        expect(':');
        value.object.emplace_back(std::move(key), parse_value(depth + 1));
        skip_space();
        if (peek() == ',') {
          ++at_;
          continue;
        }
        expect('}');
        return value;
      }
    }
    if (c == '[') {
      value.kind = Value::Kind::kArray;
      ++at_;
      skip_space();
      if (peek() == ']') {
        ++at_;
        return value;
      }
      while (true) {
        value.array.push_back(parse_value(depth + 1));
        skip_space();
        if (peek() == ',') {
          ++at_;
          continue;
        }
        expect(']');
        return value;
      }
    }
    if (c == '"') {
      value.kind = Value::Kind::kString;
      value.string = parse_string();
      return value;
    }
    if (literal("true")) {
      value.kind = Value::Kind::kBool;
      value.boolean = true;
      return value;
    }
    if (literal("false")) {
      value.kind = Value::Kind::kBool;
      return value;
    }
    if (literal("null")) {
      return value;
    }
    return parse_number();
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  Value parse_number() {
    const size_t start = at_;
    auto digits = [&]() {
      const size_t from = at_;
      while (!done() && text_[at_] >= '0' && text_[at_] <= '9') {
        ++at_;
      }
      return at_ - from;
    };
    if (peek() == '-') {
      ++at_;
    }
    if (peek() == '0') {
      ++at_;
    } else if (digits() == 0) {
      fail("expected a JSON value");
    }
    if (peek() == '.') {
      ++at_;
      if (digits() == 0) {
        fail("expected digits after the decimal point");
      }
    }
    if (peek() == 'e' || peek() == 'E') {
      ++at_;
      if (peek() == '+' || peek() == '-') {
        ++at_;
      }
      if (digits() == 0) {
        fail("expected digits in the exponent");
      }
    }
    Value value;
    value.kind = Value::Kind::kNumber;
    value.number_text = text_.substr(start, at_ - start);
    value.number = std::strtod(value.number_text.c_str(), nullptr);
    return value;
  }

  unsigned hex4() {
    if (at_ + 4 > text_.size()) {
      fail("truncated \\u escape");
    }
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[at_++];
      code <<= 4;
      if (h >= '0' && h <= '9') {
        code |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        code |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        code |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        fail("bad hex digit in a \\u escape");
      }
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  // One multi-byte UTF-8 sequence led by `lead` (RFC 3629: no overlong
  // forms, no surrogates, at most U+10FFFF), appended to out.
  void utf8_sequence(std::string& out, char lead) {
    const auto b0 = static_cast<unsigned char>(lead);
    int more = 0;
    unsigned low = 0x80;
    unsigned high = 0xBF;  // the allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      more = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      more = 2;
      if (b0 == 0xE0) low = 0xA0;
      if (b0 == 0xED) high = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      more = 3;
      if (b0 == 0xF0) low = 0x90;
      if (b0 == 0xF4) high = 0x8F;
    } else {
      --at_;
      fail("invalid UTF-8 in a string");
    }
    out += lead;
    for (int i = 0; i < more; ++i) {
      const auto b = static_cast<unsigned char>(peek());
      if (done() || b < (i == 0 ? low : 0x80) || b > (i == 0 ? high : 0xBF)) {
        fail("invalid UTF-8 in a string");
      }
      out += text_[at_++];
    }
  }

  std::string parse_string() {
    if (peek() != '"') {
      fail("expected a string");
    }
    ++at_;
    std::string out;
    while (true) {
      if (done()) {
        fail("unterminated string");
      }
      const char c = text_[at_++];
      if (c == '"') {
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        fail("control character in a string");
      }
      if (static_cast<unsigned char>(c) >= 0x80) {
        utf8_sequence(out, c);
        continue;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (done()) {
        fail("unterminated escape");
      }
      const char e = text_[at_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned code = hex4();
          if (code >= 0xD800 && code < 0xDC00) {
            if (!literal("\\u")) {
              fail("unpaired surrogate in a \\u escape");
            }
            const unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) {
              fail("unpaired surrogate in a \\u escape");
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            fail("unpaired surrogate in a \\u escape");
          }
          if (code == 0) {
            // A key or value cut at its NUL by a C string (the Node binding
            // and C APIs are) would read as another one: refused, not carried.
            fail("NUL (\\u0000) in a string");
          }
          append_utf8(out, code);
          break;
        }
        default:
          fail("bad escape in a string");
      }
    }
  }

  const std::string& text_;
  size_t at_ = 0;
  size_t values_ = 0;
};

}  // namespace

const Value* Value::find(const std::string& key) const {
  for (const auto& item : object) {
    if (item.first == key) {
      return &item.second;
    }
  }
  return nullptr;
}

bool Value::is_count() const {
  if (kind != Kind::kNumber || number_text.empty() || number_text.size() > 16) {
    return false;
  }
  for (const char c : number_text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return (number_text.size() == 1 || number_text[0] != '0') && std::stoll(number_text) <= (int64_t{1} << 53);
}

int64_t Value::count() const { return std::stoll(number_text); }

Value parse(const std::string& text) { return Parser(text).document(); }

std::string quote(const std::string& text) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string excerpt(const std::string& text) {
  if (text.size() <= kMaxExcerpt) return quote(text);
  size_t cut = kMaxExcerpt;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  return quote(text.substr(0, cut)) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace json
}  // namespace nrnm
