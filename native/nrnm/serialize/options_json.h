#pragma once

// NRNMOptions from the JSON object the package writes them as: the
// camelCase keys of the JavaScript API (src/options.ts), as in a
// checkpoint's "nrnm.header" ("model": {...}) and the parity fixtures'
// index ("options": {...}). Enum values by their names (EnumNames).

#include "nrnm/model/options.h"
#include "nrnm/serialize/json.h"

#include <string>

namespace nrnm {

/// Reads `object`; a key that is absent keeps the NRNMOptions default,
/// except inputSize and classes, which are required. Throws
/// nrnm::FormatError "<where>: ..." naming the key for a value of the wrong
/// type, an integer out of range or an unknown name (the options' own rules
/// are validate()'s, not checked here).
NRNMOptions model_options_from_json(const json::Value& object, const std::string& where);

}  // namespace nrnm
