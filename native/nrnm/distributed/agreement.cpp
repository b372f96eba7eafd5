#include "nrnm/distributed/agreement.h"

#include <map>
#include <sstream>
#include <stdexcept>

namespace nrnm {

namespace {

void put(std::string &out, const std::string &part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

std::string take(const std::string &text, size_t &at) {
  const size_t colon = text.find(':', at);
  if (colon == std::string::npos || colon == at || colon - at > 9) {
    throw std::runtime_error("malformed description of a rank's options");
  }
  const size_t size = std::stoul(text.substr(at, colon - at));
  if (size > text.size() - colon - 1) throw std::runtime_error("truncated description of a rank's options");
  at = colon + 1 + size;
  return text.substr(colon + 1, size);
}

const std::string kMissing = "(not given)";

}  // namespace

std::string encode_facts(const Facts &facts) {
  std::string out;
  for (const auto &[name, value] : facts) {
    put(out, name);
    put(out, value);
  }
  return out;
}

Facts decode_facts(const std::string &text) {
  Facts facts;
  size_t at = 0;
  while (at < text.size()) {
    std::string name = take(text, at);
    if (at >= text.size()) throw std::runtime_error("truncated description of a rank's options");
    std::string value = take(text, at);
    facts.emplace_back(std::move(name), std::move(value));
  }
  return facts;
}

std::string differences(int64_t rank, const Facts &theirs, int64_t reference_rank, const Facts &ours, size_t limit) {
  // In the reference rank's order, then names only the other rank gives.
  std::map<std::string, std::string> their_values(theirs.begin(), theirs.end());
  std::map<std::string, std::string> our_values(ours.begin(), ours.end());
  std::vector<std::string> names;
  for (const auto &fact : ours) names.push_back(fact.first);
  for (const auto &fact : theirs) {
    if (our_values.count(fact.first) == 0) names.push_back(fact.first);
  }
  std::ostringstream out;
  size_t found = 0;
  for (const auto &name : names) {
    const auto t = their_values.find(name);
    const auto o = our_values.find(name);
    const std::string &a = t == their_values.end() ? kMissing : t->second;
    const std::string &b = o == our_values.end() ? kMissing : o->second;
    if (a == b) continue;
    if (found < limit) {
      out << (found ? "; " : "") << "rank " << rank << " has " << name << " " << a << ", rank " << reference_rank
          << " has " << b;
    }
    ++found;
  }
  if (found > limit) out << " (and " << found - limit << " more)";
  return out.str();
}

}  // namespace nrnm
