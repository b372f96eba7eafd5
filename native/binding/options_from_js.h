#pragma once
// Reads the flat, fully-defaulted option structs that src/ validated and
// sends across. C++ only reads them (and re-checks in nrnm::validate).
#include <napi.h>

#include "nrnm/distributed/group.h"
#include "nrnm/model/options.h"
#include "nrnm/train/trainer.h"

namespace nrnm_binding {

nrnm::NRNMOptions ModelOptionsFromJs(const Napi::Object& object);
nrnm::TrainerOptions TrainerOptionsFromJs(const Napi::Object& object);
nrnm::DistributedOptions DistributedOptionsFromJs(const Napi::Object& object);
/// [[name, value], ...] of strings; `name` is what an error calls the value.
nrnm::Facts FactsFromJs(const Napi::Value& value, const char* name);

}  // namespace nrnm_binding
