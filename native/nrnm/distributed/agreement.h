#pragma once

// What the ranks of one run must agree on before their first collective
// (world size, model and trainer options, parameter count): named facts,
// their compact canonical text (what each rank writes to the store), and the
// one-line description of how two ranks differ.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nrnm {

/// (name, value) pairs, e.g. ("hiddenSize", "16"); names are unique.
using Facts = std::vector<std::pair<std::string, std::string>>;

/// Length-prefixed text ("<n>:<name><n>:<value>..."): any bytes survive.
std::string encode_facts(const Facts &facts);
/// The inverse of encode_facts; throws std::runtime_error on malformed text.
Facts decode_facts(const std::string &text);

/// "" when both ranks give the same facts, else e.g. "rank 1 has hiddenSize
/// 32, rank 0 has 16" (at most `limit` facts named, then "and N more").
std::string differences(int64_t rank, const Facts &theirs, int64_t reference_rank, const Facts &ours, size_t limit = 4);

}  // namespace nrnm
