#include "nrnm/distributed/group.h"

#include "nrnm/distributed/c10d_compat.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/tensor.h>
#include <c10/util/Exception.h>
#include <torch/types.h>

#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

namespace nrnm {

namespace {

using Milliseconds = std::chrono::milliseconds;

Milliseconds timeout_of(const DistributedOptions &o) {
  return Milliseconds(static_cast<int64_t>(o.timeout_seconds() * 1000));
}

// c10::Error::what() carries a C++ backtrace in 1.13; the cause is enough.
std::string cause_of(const std::exception &e) {
  if (const auto *error = dynamic_cast<const c10::Error *>(&e)) {
    return error->what_without_backtrace();
  }
  return e.what();
}

// "rank 1" for two ranks, "one of ranks 0, 2, 3" for more.
std::string peers_of(int64_t rank, int64_t world) {
  std::ostringstream out;
  if (world == 2) {
    out << "rank " << 1 - rank;
    return out.str();
  }
  out << "one of ranks ";
  bool first = true;
  for (int64_t r = 0; r < world; ++r) {
    if (r == rank) continue;
    out << (first ? "" : ", ") << r;
    first = false;
  }
  return out.str();
}

bool is_loopback(const std::string &host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

void check_options(const DistributedOptions &o) {
  TORCH_CHECK(o.world_size() >= 1, "distributed: world size must be >= 1 but got ", o.world_size());
  TORCH_CHECK(o.rank() >= 0 && o.rank() < o.world_size(), "distributed: rank must be in [0, ", o.world_size(),
              ") but got ", o.rank());
  TORCH_CHECK(o.master_port() > 0 && o.master_port() < 65536, "distributed: master port must be in [1, 65535] but got ",
              o.master_port());
  TORCH_CHECK(o.timeout_seconds() > 0, "distributed: the timeout must be > 0 seconds but got ", o.timeout_seconds());
  TORCH_CHECK(o.bucket_bytes() > 0, "distributed: bucket_bytes must be > 0 but got ", o.bucket_bytes());
  TORCH_CHECK(o.backend() == DistributedBackend::kGloo || NRNM_WITH_NCCL,
              "distributed: the nccl backend needs a CUDA build of nrnm-native (this "
              "one has no NCCL); use gloo");
}

c10::intrusive_ptr<c10d::Store> make_store(const DistributedOptions &o) {
  c10::intrusive_ptr<c10d::Store> store;
  if (!o.store_file().empty()) {
    store = c10::make_intrusive<c10d::FileStore>(o.store_file(), static_cast<int>(o.world_size()));
  } else {
    c10d::TCPStoreOptions tcp;
    tcp.port = static_cast<std::uint16_t>(o.master_port());
    tcp.isServer = o.host_store() && o.rank() == 0;
    tcp.numWorkers = static_cast<std::size_t>(o.world_size());
    tcp.waitWorkers = o.host_store();
    tcp.timeout = timeout_of(o);
    store = c10::make_intrusive<c10d::TCPStore>(o.master_addr(), tcp);
  }
  store->setTimeout(timeout_of(o));
  return c10::make_intrusive<c10d::PrefixStore>(o.store_prefix(), store);
}

std::shared_ptr<::gloo::transport::Device> make_gloo_device(const DistributedOptions &o) {
  if (!o.interface().empty()) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(o.interface());
  }
  if (!o.store_file().empty() || is_loopback(o.master_addr())) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10::intrusive_ptr<CollectiveBackend> make_backend(const c10::intrusive_ptr<c10d::Store> &store,
                                                   const DistributedOptions &o) {
  const int rank = static_cast<int>(o.rank());
  const int world = static_cast<int>(o.world_size());
#if NRNM_WITH_NCCL
  if (o.backend() == DistributedBackend::kNccl) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout_of(o);
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
  }
#endif
  auto options = c10d::ProcessGroupGloo::Options::create(timeout_of(o));
  options->devices.push_back(make_gloo_device(o));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
}

}  // namespace

struct DistributedGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> backend;
  double allreduce_ms = 0;
};

DistributedGroup::DistributedGroup(DistributedOptions options)
    : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  check_options(options_);
  const auto &o = options_;
  try {
    impl_->store = make_store(o);
    impl_->backend = make_backend(impl_->store, o);
  } catch (const std::exception &e) {
    const std::string where = o.store_file().empty()
                                  ? "the TCP store at " + o.master_addr() + ":" + std::to_string(o.master_port())
                                  : "the file store " + o.store_file();
    TORCH_CHECK(false, "rank ", o.rank(), " of ", o.world_size(), ": could not join the other ranks through ", where,
                " within ", o.timeout_seconds(), " s: ", cause_of(e), ". Start all ", o.world_size(),
                " ranks with the same store (MASTER_ADDR / MASTER_PORT) and check "
                "that ",
                peers_of(o.rank(), o.world_size()), " started.");
  }
}

DistributedGroup::~DistributedGroup() = default;

namespace {

// Runs one collective and waits for it; turns any failure into an error
// that names this rank, the operation and the peers.
template <typename Start>
void run_collective(const DistributedOptions &o, const char *what, Start start) {
  try {
    start()->wait();
  } catch (const std::exception &e) {
    TORCH_CHECK(false, "rank ", o.rank(), " of ", o.world_size(), ": ", what, " failed: ", cause_of(e), ". ",
                peers_of(o.rank(), o.world_size()), " stopped (crashed or killed) or did not answer within ",
                o.timeout_seconds(),
                " s; training stops on every rank. The last checkpoint written "
                "stays loadable.");
  }
}

}  // namespace

void DistributedGroup::broadcast_(const std::vector<at::Tensor> &tensors, const char *what) {
  torch::NoGradGuard no_grad;
  for (const auto &t : tensors) {
    std::vector<at::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    run_collective(options_, what, [&] { return impl_->backend->broadcast(one, c10d::BroadcastOptions{}); });
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

void DistributedGroup::average_(const std::vector<at::Tensor> &tensors, const char *what) {
  torch::NoGradGuard no_grad;
  const auto started = std::chrono::steady_clock::now();
  // Buckets of tensors with one dtype and device, in the given order, each
  // at most bucket_bytes (a larger tensor gets a bucket of its own).
  std::vector<std::vector<at::Tensor>> buckets;
  std::map<std::tuple<int, int, int>, size_t> open;  // (dtype, device) -> bucket
  std::vector<int64_t> bytes;
  for (const auto &t : tensors) {
    const auto key = std::make_tuple(static_cast<int>(t.scalar_type()), static_cast<int>(t.device().type()),
                                     static_cast<int>(t.device().index()));
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    auto it = open.find(key);
    if (it == open.end() || bytes[it->second] + size > options_.bucket_bytes()) {
      open[key] = buckets.size();
      buckets.emplace_back();
      bytes.push_back(0);
      it = open.find(key);
    }
    buckets[it->second].push_back(t);
    bytes[it->second] += size;
  }
  const double world = static_cast<double>(world_size());
  for (auto &bucket : buckets) {
    std::vector<at::Tensor> flat_parts;
    flat_parts.reserve(bucket.size());
    for (const auto &t : bucket) flat_parts.push_back(t.reshape({-1}));
    std::vector<at::Tensor> flat{at::cat(flat_parts)};
    run_collective(options_, what, [&] { return impl_->backend->allreduce(flat, c10d::AllreduceOptions{}); });
    flat[0].div_(world);  // Gloo has SUM, not AVG
    int64_t offset = 0;
    for (auto &t : bucket) {
      const int64_t n = t.numel();
      t.copy_(flat[0].narrow(0, offset, n).view_as(t));
      offset += n;
    }
  }
  impl_->allreduce_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

std::vector<double> DistributedGroup::sum(const std::vector<double> &values, const char *what) {
  at::Tensor t = torch::tensor(values, torch::kDouble);
#if NRNM_WITH_NCCL
  if (options_.backend() == DistributedBackend::kNccl) {
    t = t.to(at::Device(at::kCUDA, c10::cuda::current_device()));
  }
#endif
  std::vector<at::Tensor> one{t};
  run_collective(options_, what, [&] { return impl_->backend->allreduce(one, c10d::AllreduceOptions{}); });
  const at::Tensor host = one[0].cpu();
  return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
}

void DistributedGroup::barrier(const char *what) {
  run_collective(options_, what, [&] { return impl_->backend->barrier(c10d::BarrierOptions{}); });
}

double DistributedGroup::take_allreduce_ms() {
  const double ms = impl_->allreduce_ms;
  impl_->allreduce_ms = 0;
  return ms;
}

void seed_for_rank(at::Generator &generator, int64_t rank) {
  if (rank == 0) return;
  std::lock_guard<std::mutex> lock(generator.mutex());
  auto *cpu = at::check_generator<at::CPUGeneratorImpl>(generator);
  const uint64_t base = cpu->random64();
  cpu->set_current_seed(base ^ (static_cast<uint64_t>(rank) * 0x9E3779B97F4A7C15ULL));
}

}  // namespace nrnm
