#pragma once

// The names users see for the values of an option enum ("dilated",
// "per-step", "adamw", ...), in one table per enum: to_string, from_string
// and the list of names for messages all read that table, and the binding
// hands the lists to TypeScript (optionChoices(), held to src/'s unions by
// test/options-defaults.test.ts), so no other place spells a value set.
// (The first form of the option's name is the camelCase of the JavaScript
// API, as in the messages of validate().)
//
// An enum takes part by specialising EnumNames next to its declaration:
//
//   template <> struct EnumNames<Backbone> {
//     static constexpr const char* option = "backbone";  // its camelCase option
//     static constexpr std::array<std::pair<Backbone, const char*>, 3> table{
//         {{Backbone::kLSTM, "lstm"}, {Backbone::kGRU, "gru"}, {Backbone::kRNN, "rnn"}}};
//   };

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nrnm {

template <typename Enum>
struct EnumNames;

/// The name of `value`; "unknown" for a value outside the table (a cast).
template <typename Enum, typename = decltype(EnumNames<Enum>::table)>
const char* to_string(Enum value) {
  for (const auto& [entry, name] : EnumNames<Enum>::table) {
    if (entry == value) return name;
  }
  return "unknown";
}

/// The value named `text`, or nullopt (each caller words its own error).
template <typename Enum>
std::optional<Enum> from_string(std::string_view text) {
  for (const auto& [entry, name] : EnumNames<Enum>::table) {
    if (text == name) return entry;
  }
  return std::nullopt;
}

/// Every name, in the table's order.
template <typename Enum>
std::vector<std::string> enum_names() {
  std::vector<std::string> names;
  for (const auto& item : EnumNames<Enum>::table) names.emplace_back(item.second);
  return names;
}

/// "'dilated' or 'strided'", "'lstm', 'gru' or 'rnn'": for messages.
template <typename Enum>
std::string enum_choices() {
  std::string text;
  const auto& table = EnumNames<Enum>::table;
  for (size_t i = 0; i < table.size(); ++i) {
    if (i > 0) text += i + 1 == table.size() ? " or " : ", ";
    text += std::string("'") + table[i].second + "'";
  }
  return text;
}

}  // namespace nrnm
