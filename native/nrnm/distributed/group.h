#pragma once

// DistributedGroup: the ranks of one data-parallel training run, joined over
// PyTorch's own c10d (a FileStore or TCPStore to meet, ProcessGroupGloo for
// CPU tensors, ProcessGroupNCCL for CUDA tensors in CUDA builds), with the
// few collectives the trainer needs. Joining checks, through the store and
// before any collective, that the ranks agree (world size, the caller's
// facts: model and trainer options), that no rank was started twice and that
// the store's port is not another program's. Every failure (those, a peer
// that crashed, was killed or does not answer within the timeout) throws an
// nrnm::DistributedError naming this rank, the peers and what to change,
// within the timeout, instead of hanging or crashing.

#include "nrnm/distributed/agreement.h"
#include "nrnm/runtime/enum_names.h"

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nrnm {

enum class DistributedBackend {
  kGloo,  // CPU tensors (and CUDA tensors, slowly): every LibTorch has it
  kNccl,  // CUDA tensors, one GPU per rank: CUDA builds only
};

template <>
struct EnumNames<DistributedBackend> {
  static constexpr const char *option = "backend";
  static constexpr std::array<std::pair<DistributedBackend, const char *>, 2> table{
      {{DistributedBackend::kGloo, "gloo"}, {DistributedBackend::kNccl, "nccl"}}};
};

struct DistributedOptions {
  DistributedOptions(int64_t rank, int64_t world_size) : rank_(rank), world_size_(world_size) {}

  /// This process's rank in [0, world_size).
  TORCH_ARG(int64_t, rank);
  /// Number of processes training together.
  TORCH_ARG(int64_t, world_size);
  /// Where the ranks meet: a FileStore at this path when it is not empty (one
  /// machine, no port opened; the file must be new to this run: a file left
  /// by a crashed run breaks the next), else a TCPStore at master_addr:port.
  TORCH_ARG(std::string, store_file) = "";
  TORCH_ARG(std::string, master_addr) = "127.0.0.1";
  /// torchrun's default MASTER_PORT.
  TORCH_ARG(int64_t, master_port) = 29500;
  /// Whether rank 0 hosts the TCPStore; false when a launcher already hosts
  /// it (torchrun's agent: TORCHELASTIC_USE_AGENT_STORE=True).
  TORCH_ARG(bool, host_store) = true;
  /// Namespace of this group's keys in the store (torchrun restarts reuse
  /// the agent's store: the restart count keeps their keys apart).
  TORCH_ARG(std::string, store_prefix) = "nrnm";
  /// Network interface of Gloo's connections (GLOO_SOCKET_IFNAME). Empty:
  /// 127.0.0.1 when the ranks meet through a file or a loopback master_addr
  /// (nothing listens beyond the machine), else the address of this host.
  TORCH_ARG(std::string, interface) = "";
  /// Longest wait for the other ranks, joining and in every collective.
  TORCH_ARG(double, timeout_seconds) = 300;
  /// What every rank must give alike (model and trainer options: all but
  /// the seed and the device), checked at join with the world size.
  TORCH_ARG(Facts, agreement) = {};
  TORCH_ARG(DistributedBackend, backend) = DistributedBackend::kGloo;
  /// Gradients are allreduced in flat buckets of at most this size
  /// (PyTorch DDP's default bucket_cap_mb = 25).
  TORCH_ARG(int64_t, bucket_bytes) = 25 * 1024 * 1024;
};

class DistributedGroup {
 public:
  /// Joins the other ranks; blocks until all have joined and agree on the
  /// world size and options().agreement(), throws within timeout_seconds
  /// otherwise.
  explicit DistributedGroup(DistributedOptions options);
  ~DistributedGroup();
  DistributedGroup(const DistributedGroup &) = delete;
  DistributedGroup &operator=(const DistributedGroup &) = delete;

  int64_t rank() const { return options_.rank(); }
  int64_t world_size() const { return options_.world_size(); }
  const DistributedOptions &options() const { return options_; }

  /// Overwrites the tensors with rank 0's (in place, outside autograd).
  void broadcast_(const std::vector<at::Tensor> &tensors, const char *what);
  /// Replaces each tensor with its mean over the ranks (sum / world size),
  /// packed into flat buckets per dtype and device: one allreduce per bucket.
  void average_(const std::vector<at::Tensor> &tensors, const char *what);
  /// Sums over the ranks (one allreduce of a small CPU double tensor).
  std::vector<double> sum(const std::vector<double> &values, const char *what);
  /// Returns once every rank has called it.
  void barrier(const char *what);
  /// Checks through the store (no collective) that every rank gives the same
  /// facts; `round` names this check's keys (one call per round and rank).
  /// Throws on every rank, naming the differences, else returns on all.
  void agree(const Facts &facts, const std::string &round);

  /// Milliseconds spent in average_() since the last call (a measure of the
  /// communication cost per step).
  double take_allreduce_ms();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DistributedOptions options_;
};

/// Gives rank > 0 its own stream of dropout / zoneout masks, derived from
/// the generator's current state (so it is reproducible, also after a
/// resume); rank 0 keeps its stream, so one process trains as before.
void seed_for_rank(at::Generator &generator, int64_t rank);

}  // namespace nrnm
