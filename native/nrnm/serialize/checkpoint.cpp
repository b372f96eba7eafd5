#include "nrnm/serialize/checkpoint.h"

#include "nrnm/model/aggregation.h"
#include "nrnm/model/cell.h"
#include "nrnm/runtime/errors.h"
#include "nrnm/serialize/json.h"
#include "nrnm/serialize/options_json.h"

#include <torch/types.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace nrnm {

namespace {

constexpr const char* kChecksumKey = "nrnm.checksum";
constexpr const char* kGenerator = "nrnm.generator";
constexpr const char* kOptimizerStep = "nrnm.optimizer.step";
constexpr const char* kExpAvg = "nrnm.optimizer.exp_avg.";
constexpr const char* kExpAvgSq = "nrnm.optimizer.exp_avg_sq.";
constexpr const char* kMaxExpAvgSq = "nrnm.optimizer.max_exp_avg_sq.";
constexpr const char* kTrainerOptimizer = "nrnm.trainer.optimizer";
constexpr const char* kTrainerSteps = "nrnm.trainer.step_count";
constexpr const char* kTrainerEpochs = "nrnm.trainer.epoch_count";
constexpr const char* kTrainerLr = "nrnm.trainer.lr";
// ReduceLROnPlateau's state; absent in older checkpoints (= none yet).
constexpr const char* kTrainerPlateauBest = "nrnm.trainer.plateau_best";
constexpr const char* kTrainerPlateauBad = "nrnm.trainer.plateau_bad_epochs";

class Crc32 {
 public:
  void add(const void* data, size_t size) {
    static const std::array<uint32_t, 256> table = make_table();
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) {
      crc_ = table[(crc_ ^ bytes[i]) & 0xFF] ^ (crc_ >> 8);
    }
  }
  void add_field(const std::string& text) {
    add(text.data(), text.size());
    add("", 1);  // the NUL after each field
  }
  uint32_t value() const { return crc_ ^ 0xFFFFFFFFu; }

 private:
  static std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      }
      table[n] = c;
    }
    return table;
  }
  uint32_t crc_ = 0xFFFFFFFFu;
};

std::string checksum_text(uint32_t crc) {
  char text[16];
  std::snprintf(text, sizeof text, "crc32:%08x", crc);
  return text;
}

std::string shape_text(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

// The trainable parameters with their names, in the order the Trainer keeps
// them (parameters() filtered by requires_grad).
std::vector<std::pair<std::string, torch::Tensor>> trainable(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters()) {
    if (item.value().requires_grad()) {
      out.emplace_back(item.key(), item.value());
    }
  }
  return out;
}

std::string double_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

class CheckpointReader {
 public:
  CheckpointReader(const std::string& bytes, const std::string& source)
      : source_(source), file_(decode_safetensors(bytes, source)) {
    for (const auto& [name, tensor] : file_.tensors) {
      by_name_[name] = tensor;
    }
    const auto format = file_.metadata.find("format");
    if (format == file_.metadata.end() || format->second != kCheckpointFormat) {
      throw FormatError(source +
                        " is a safetensors file but not an nrnm-native checkpoint "
                        "(its __metadata__ has no format \"nrnm-checkpoint\")");
    }
    const std::string version = meta("format_version");
    if (version != std::to_string(kCheckpointFormatVersion)) {
      throw FormatError(source + " is an nrnm-native checkpoint of format version " + version +
                        "; this nrnm-native reads version " + std::to_string(kCheckpointFormatVersion) +
                        ". Use the nrnm-native version that wrote it.");
    }
    const std::string stored = meta(kChecksumKey);
    const std::string computed = checksum_text(checkpoint_checksum(file_));
    if (stored != computed) {
      throw FormatError(source + " is corrupted: its checksum is " + computed + " but the file records " + stored +
                        ". Use another copy (e.g. best.nrnm or a backup).");
    }
  }

  const TensorFile& file() const { return file_; }

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(source_ + ": " + what); }

  std::string meta(const std::string& key) const {
    const auto found = file_.metadata.find(key);
    if (found == file_.metadata.end()) {
      fail("the checkpoint's __metadata__ has no \"" + key + "\"");
    }
    return found->second;
  }

  bool has_meta(const std::string& key) const { return file_.metadata.count(key) != 0; }

  int64_t meta_count(const std::string& key) const {
    const std::string text = meta(key);
    char* end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < 0) {
      fail("the checkpoint's \"" + key + "\" is not a count: " + json::excerpt(text));
    }
    return v;
  }

  double meta_number(const std::string& key) const {
    const std::string text = meta(key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v)) {
      fail("the checkpoint's \"" + key + "\" is not a finite number: " + json::excerpt(text));
    }
    return v;
  }

  /// The floating tensor `name` of shape `sizes`, or an undefined tensor
  /// when it is absent and not `required`.
  torch::Tensor tensor(const std::string& name, at::IntArrayRef sizes, bool required) const {
    const auto found = by_name_.find(name);
    if (found == by_name_.end()) {
      if (required) {
        fail("it has no tensor \"" + name + "\" " + shape_text(sizes));
      }
      return {};
    }
    used_[name] = true;
    const torch::Tensor& t = found->second;
    if (t.sizes() != sizes || !t.is_floating_point()) {
      fail("the stored tensor \"" + name + "\" is " + c10::toString(t.scalar_type()) + " " + shape_text(t.sizes()) +
           " but the model its options describe needs floating " + shape_text(sizes) +
           ": the options and the parameters stored in the file disagree (edited or damaged file)");
    }
    return t;
  }

  torch::Tensor raw(const std::string& name) const {
    const auto found = by_name_.find(name);
    if (found == by_name_.end()) {
      fail("it has no tensor \"" + name + "\"");
    }
    used_[name] = true;
    return found->second;
  }

  void check_all_used() const {
    for (const auto& [name, tensor] : file_.tensors) {
      if (!used_.count(name)) {
        fail("it holds the tensor " + json::excerpt(name) +
             " that this model does not have: the options and the parameters stored in the file "
             "disagree (edited or damaged file)");
      }
    }
  }

 private:
  const std::string& source_;
  TensorFile file_;
  std::map<std::string, torch::Tensor> by_name_;
  mutable std::map<std::string, bool> used_;
};

TrainerState read_trainer_state(const CheckpointReader& in, const torch::nn::Module& module) {
  const auto params = trainable(module);
  TrainerState state;
  const std::string kind = in.meta(kTrainerOptimizer);
  const std::optional<OptimizerKind> optimizer = from_string<OptimizerKind>(kind);
  if (!optimizer) in.fail("its trainer state names the unknown optimizer " + json::excerpt(kind));
  state.optimizer = *optimizer;
  state.step_count = in.meta_count(kTrainerSteps);
  state.epoch_count = in.meta_count(kTrainerEpochs);
  state.lr = in.meta_number(kTrainerLr);
  if (in.has_meta(kTrainerPlateauBest)) state.plateau_best = in.meta_number(kTrainerPlateauBest);
  if (in.has_meta(kTrainerPlateauBad)) state.plateau_bad_epochs = in.meta_count(kTrainerPlateauBad);
  const torch::Tensor steps = in.raw(kOptimizerStep);
  if (steps.scalar_type() != torch::kLong || steps.dim() != 1 || steps.size(0) != static_cast<int64_t>(params.size())) {
    in.fail("its \"" + std::string(kOptimizerStep) + "\" should be int64 [" + std::to_string(params.size()) +
            "] (one Adam step per trainable parameter)");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, param] = params[i];
    TrainerState::Moments m;
    m.step = steps[static_cast<int64_t>(i)].item<int64_t>();
    if (m.step < 0) {
      in.fail("its Adam step of \"" + name + "\" is negative");
    }
    if (m.step > 0) {
      m.exp_avg = in.tensor(kExpAvg + name, param.sizes(), true);
      m.exp_avg_sq = in.tensor(kExpAvgSq + name, param.sizes(), true);
      m.max_exp_avg_sq = in.tensor(kMaxExpAvgSq + name, param.sizes(), false);
    }
    state.moments.push_back(std::move(m));
  }
  return state;
}

// a * b, or a FormatError when the product leaves int64: options that
// describe a model no file can hold.
int64_t product(const CheckpointReader& in, int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) in.fail("its model options describe tensors too large for any file");
  return out;
}

// The stored options against the stored tensors, before any model is built
// (a crafted header must not make the loader allocate what the file does not
// hold): validate()'s rules, then the shapes of every tensor that grows with
// an option. Every other parameter is at most a small multiple of these, so
// a model built after this check is bounded by the file's size.
void check_stored_options(const CheckpointReader& in, const std::string& source) {
  const auto header_text = in.file().metadata.find("nrnm.header");
  if (header_text == in.file().metadata.end()) return;  // src/ refuses a file without one
  json::Value header;
  try {
    header = json::parse(header_text->second);
  } catch (const std::invalid_argument& e) {
    in.fail(std::string("the checkpoint's \"nrnm.header\" metadata is not valid JSON (") + e.what() + ")");
  }
  const json::Value* model = header.kind == json::Value::Kind::kObject ? header.find("model") : nullptr;
  if (model == nullptr || model->kind != json::Value::Kind::kObject) return;  // src/ refuses it, naming the file
  const NRNMOptions o = model_options_from_json(*model, source + ": the checkpoint's stored options");
  try {
    validate(o);
  } catch (const c10::Error& e) {
    in.fail(std::string("its stored model options are out of range: ") + e.what_without_backtrace());
  }
  const int64_t H = o.hidden_size();
  const int64_t n = o.block_length() / o.stride();
  const int64_t G = backbone_gates(o.backbone());
  const int64_t nH = product(in, n, H);
  for (int64_t layer = 0; layer < o.layers(); ++layer) {
    const std::string cell = "rnn.cell_" + std::to_string(layer) + ".";
    const int64_t d = layer == 0 ? o.input_size() : H;
    in.tensor(cell + "weight_ih", {d, product(in, G, H)}, true);
    in.tensor(cell + "weight_hh", {H, product(in, G, H)}, true);
    in.tensor(cell + "weight_memh", {nH, nH}, true);
    in.tensor(cell + "weight_memi", {d, nH}, true);
    if (o.input_aggregation() == InputAggregation::kDilated) {
      in.tensor(cell + DilatedAggregationImpl::official_name(d) + ".1.weight", {product(in, 2, d), product(in, 8, d)},
                true);
    }
  }
  in.tensor("decoder.0.weight", {o.classes(), H}, true);
}

}  // namespace

uint32_t checkpoint_checksum(const TensorFile& file) {
  Crc32 crc;
  for (const auto& item : file.tensors) {
    const torch::Tensor t = item.second.detach().to(torch::kCPU).contiguous();
    crc.add(t.data_ptr(), t.numel() * t.element_size());
  }
  for (const auto& [key, value] : file.metadata) {
    if (key != kChecksumKey) {
      crc.add_field(key);
      crc.add_field(value);
    }
  }
  for (const auto& [name, t] : file.tensors) {
    crc.add_field(name);
    crc.add_field(safetensors_dtype(t.scalar_type()));
    std::string sizes;
    for (int64_t i = 0; i < t.dim(); ++i) {
      sizes += (i == 0 ? "" : ",") + std::to_string(t.size(i));
    }
    crc.add_field(sizes);
  }
  return crc.value();
}

std::string save_checkpoint(const CheckpointParts& parts, const std::map<std::string, std::string>& metadata) {
  TORCH_CHECK(parts.module != nullptr, "save_checkpoint: no module given");
  TensorFile file;
  for (const auto& [key, value] : metadata) {
    TORCH_CHECK(key != "format" && key != "format_version" && (key.rfind("nrnm.", 0) != 0 || key == "nrnm.header"),
                "save_checkpoint: the metadata key '", key, "' is reserved");
    file.metadata[key] = value;
  }
  file.metadata["format"] = kCheckpointFormat;
  file.metadata["format_version"] = std::to_string(kCheckpointFormatVersion);
  for (const auto& item : parts.module->named_parameters()) {
    file.tensors.emplace_back(item.key(), item.value());
  }
  if (parts.generator != nullptr) {
    file.tensors.emplace_back(kGenerator, parts.generator->get_state());
  }
  if (parts.trainer != nullptr) {
    const TrainerState state = parts.trainer->state();
    const auto params = trainable(*parts.module);
    TORCH_CHECK(params.size() == state.moments.size(), "save_checkpoint: the trainer does not train this module");
    file.metadata[kTrainerOptimizer] = to_string(state.optimizer);
    file.metadata[kTrainerSteps] = std::to_string(state.step_count);
    file.metadata[kTrainerEpochs] = std::to_string(state.epoch_count);
    file.metadata[kTrainerLr] = double_text(state.lr);
    if (std::isfinite(state.plateau_best)) file.metadata[kTrainerPlateauBest] = double_text(state.plateau_best);
    file.metadata[kTrainerPlateauBad] = std::to_string(state.plateau_bad_epochs);
    torch::Tensor steps = torch::empty({static_cast<int64_t>(params.size())}, torch::kLong);
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& m = state.moments[i];
      steps[static_cast<int64_t>(i)] = m.step;
      if (m.step == 0) {
        continue;
      }
      file.tensors.emplace_back(kExpAvg + params[i].first, m.exp_avg);
      file.tensors.emplace_back(kExpAvgSq + params[i].first, m.exp_avg_sq);
      if (m.max_exp_avg_sq.defined()) {
        file.tensors.emplace_back(kMaxExpAvgSq + params[i].first, m.max_exp_avg_sq);
      }
    }
    file.tensors.emplace_back(kOptimizerStep, steps);
  }
  // Bring every tensor to the CPU once: the checksum and the encoder read
  // the same bytes.
  for (auto& item : file.tensors) {
    item.second = item.second.detach().to(torch::kCPU).contiguous();
  }
  file.metadata[kChecksumKey] = checksum_text(checkpoint_checksum(file));
  return encode_safetensors(file);
}

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& bytes, const std::string& source) {
  const CheckpointReader in(bytes, source);
  check_stored_options(in, source);
  return in.file().metadata;
}

void load_checkpoint(const std::string& bytes, const std::string& source, const CheckpointParts& parts) {
  TORCH_CHECK(parts.module != nullptr, "load_checkpoint: no module given");
  const CheckpointReader in(bytes, source);

  // Everything is checked before anything changes.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  for (const auto& item : parts.module->named_parameters()) {
    copies.emplace_back(item.value(), in.tensor(item.key(), item.value().sizes(), true));
  }
  torch::Tensor generator_state;
  if (parts.generator != nullptr) {
    generator_state = in.raw(kGenerator);
    const torch::Tensor current = parts.generator->get_state();
    if (generator_state.scalar_type() != torch::kByte || generator_state.sizes() != current.sizes()) {
      in.fail("its \"" + std::string(kGenerator) + "\" is not the state of this model's generator (uint8 " +
              shape_text(current.sizes()) + ")");
    }
  }
  TrainerState trainer_state;
  if (parts.trainer != nullptr) {
    if (!in.file().metadata.count(kTrainerOptimizer)) {
      in.fail(
          "it holds a model without trainer state (saved with model.save, not by a Trainer); "
          "load it with NRNMClassifier.load()");
    }
    trainer_state = read_trainer_state(in, *parts.module);
    if (trainer_state.optimizer != parts.trainer->options().optimizer()) {
      in.fail(std::string("its trainer state is for ") + to_string(trainer_state.optimizer) + " but the trainer uses " +
              to_string(parts.trainer->options().optimizer()));
    }
  } else {
    // A model loaded on its own ignores the trainer's tensors.
    for (const auto& [name, tensor] : in.file().tensors) {
      if (name.rfind("nrnm.optimizer.", 0) == 0) {
        in.raw(name);
      }
    }
  }
  if (parts.generator == nullptr) {
    for (const auto& [name, tensor] : in.file().tensors) {
      if (name == kGenerator) {
        in.raw(name);  // a module without a generator ignores it
      }
    }
  }
  in.check_all_used();

  {
    torch::NoGradGuard no_grad;
    for (auto& [target, source_tensor] : copies) {
      target.copy_(source_tensor);
    }
  }
  if (parts.generator != nullptr) {
    parts.generator->set_state(generator_state);
  }
  if (parts.trainer != nullptr) {
    parts.trainer->restore(trainer_state);
  }
}

}  // namespace nrnm
