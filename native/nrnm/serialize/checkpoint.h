#pragma once

// nrnm checkpoints: a safetensors file (safetensors.h), so that loading one
// never runs code from it and Python tools read it as they are
// (safetensors.torch.load_file, or json + struct). README "Checkpoint
// format" documents the layout for users; in short:
//
// Tensors
//   <parameter name>                 each parameter of the module, as named
//                                    by named_parameters() (for an
//                                    NRNMClassifier: the official names)
//   nrnm.generator                   U8, the model generator's state
//   nrnm.optimizer.step              I64 [P], Adam step per trainable param
//   nrnm.optimizer.exp_avg.<name>    Adam moments of each trainable param
//   nrnm.optimizer.exp_avg_sq.<name>   that the optimizer has stepped
//   nrnm.optimizer.max_exp_avg_sq.<name>  (amsgrad only)
// __metadata__ (strings)
//   format = "nrnm-checkpoint", format_version = "2"
//   nrnm.checksum = "crc32:<8 hex digits>" (checkpoint_checksum below)
//   nrnm.trainer.optimizer, .step_count, .epoch_count, .lr (with a trainer)
//   and the caller's own entries (the package's JSON header is
//   "nrnm.header": model options, progress, metrics).
//
// Loading checks the checksum, that the tensors are exactly the module's
// parameters with their shapes (the options the caller built the module
// from agree with what is stored), and the trainer state, before it changes
// anything; every failure is an nrnm::FormatError naming the source.

#include "nrnm/serialize/safetensors.h"
#include "nrnm/train/trainer.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <map>
#include <string>

namespace nrnm {

constexpr const char* kCheckpointFormat = "nrnm-checkpoint";
constexpr int kCheckpointFormatVersion = 2;

/// What a checkpoint saves or restores. The module is required; the model's
/// generator and the trainer are optional.
struct CheckpointParts {
  torch::nn::Module* module = nullptr;
  at::Generator* generator = nullptr;
  Trainer* trainer = nullptr;
};

/// The file's bytes: the parts plus `metadata` (keys must not start with
/// "nrnm." except "nrnm.header", nor be "format" or "format_version").
std::string save_checkpoint(const CheckpointParts& parts, const std::map<std::string, std::string>& metadata);

/// The metadata of a checkpoint, after the checksum and the format checks.
std::map<std::string, std::string> read_checkpoint_metadata(const std::string& bytes, const std::string& source);

/// Restores the parts from a checkpoint: all or nothing.
void load_checkpoint(const std::string& bytes, const std::string& source, const CheckpointParts& parts);

/// CRC-32 (as zlib.crc32) of, in this order: the data of every tensor in
/// file order; then for each metadata entry but nrnm.checksum, in key order,
/// key NUL value NUL; then for each tensor in file order, name NUL dtype NUL
/// its shape's sizes joined by "," NUL. A flipped byte anywhere in the file
/// changes it or breaks the file's structure.
uint32_t checkpoint_checksum(const TensorFile& file);

}  // namespace nrnm
