#include "nrnm/distributed/group.h"

#include "nrnm/distributed/c10d_compat.h"
#include "nrnm/distributed/store_probe.h"
#include "nrnm/runtime/errors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/tensor.h>
#include <c10/util/Exception.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
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

[[noreturn]] void fail(const DistributedOptions &o, const std::string &message) {
  throw DistributedError("rank " + std::to_string(o.rank()) + " of " + std::to_string(o.world_size()) + ": " + message);
}

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out << seconds << " s";
  return out.str();
}

std::string address_of(const DistributedOptions &o) { return o.master_addr() + ":" + std::to_string(o.master_port()); }

std::string store_name(const DistributedOptions &o) {
  return o.store_file().empty() ? "the TCP store at " + address_of(o) : "the file store " + o.store_file();
}

// Time left until `deadline`; at least 100 ms, so that a wait still sees a
// key that is already there.
Milliseconds left_until(Deadline deadline) {
  const auto left = std::chrono::duration_cast<Milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, Milliseconds(100));
}

std::vector<uint8_t> bytes_of(const std::string &text) { return std::vector<uint8_t>(text.begin(), text.end()); }
std::string text_of(const std::vector<uint8_t> &bytes) { return std::string(bytes.begin(), bytes.end()); }

// A client's store: c10d's TCPStore, made and asked one question (an add on
// a key of its own, whose answer is known) on a thread of its own, bounded by
// `deadline`. A listener that never answers leaves that thread waiting, and
// it is abandoned; one that answers other bytes fails the question.
c10::intrusive_ptr<c10d::Store> connect_within(const DistributedOptions &o, const c10d::TCPStoreOptions &tcp,
                                               Deadline deadline) {
  using Result = std::promise<c10::intrusive_ptr<c10d::Store>>;
  auto result = std::make_shared<Result>();
  auto future = result->get_future();
  const std::string key = "nrnm-probe/" + std::to_string(o.rank()) + "/" + std::to_string(std::random_device{}());
  std::thread([result, host = o.master_addr(), tcp, key] {
    c10::intrusive_ptr<c10d::TCPStore> store;
    try {
      store = c10::make_intrusive<c10d::TCPStore>(host, tcp);
      if (store->add(key, 7) != 7) throw std::runtime_error("it answered a store request with other bytes");
      result->set_value(store);
    } catch (...) {
      // A store that met a foreign peer is never destroyed: its teardown
      // talks to that peer and may throw from a destructor (terminate).
      (void)store.release();
      result->set_exception(std::current_exception());
    }
  }).detach();
  const std::string port = std::to_string(o.master_port());
  if (future.wait_until(deadline) != std::future_status::ready) {
    fail(o, "what listens at " + address_of(o) +
                " accepted the connection but did not answer as rank 0's store within " +
                seconds_text(o.timeout_seconds()) + ": another program may hold port " + port +
                " (give every rank another MASTER_PORT, or stop that program)");
  }
  try {
    return future.get();
  } catch (const std::exception &e) {
    fail(o, "what listens at " + address_of(o) + " is not rank 0's store (" + cause_of(e) +
                "): another program may hold port " + port + " (give every rank another MASTER_PORT, or stop it)");
  }
}

c10::intrusive_ptr<c10d::Store> make_store(const DistributedOptions &o, Deadline deadline) {
  c10::intrusive_ptr<c10d::Store> store;
  if (!o.store_file().empty()) {
    store = c10::make_intrusive<c10d::FileStore>(o.store_file(), static_cast<int>(o.world_size()));
  } else {
    const bool server = o.host_store() && o.rank() == 0;
    const std::string port = std::to_string(o.master_port());
    const std::string in_use = "port " + port +
                               " is in use (another program, or another rank 0, listens there), so rank 0 cannot host "
                               "the store; choose another MASTER_PORT for every rank, or stop what holds port " +
                               port;
    if (server && port_in_use(o.master_port())) fail(o, in_use);
    if (!server) {
      switch (probe_store(o.master_addr(), o.master_port(), deadline)) {
        case ProbeResult::kNoListener:
          fail(o, "nothing listened at " + address_of(o) + " within " + seconds_text(o.timeout_seconds()) +
                      ": check that rank 0 started, with the same MASTER_ADDR and MASTER_PORT");
        case ProbeResult::kSpoke:
          fail(o, "what listens at " + address_of(o) +
                      " is not rank 0's store (it spoke first): another program holds port " + port +
                      "; give every rank another MASTER_PORT, or stop that program");
        case ProbeResult::kQuiet:
          break;
      }
    }
    c10d::TCPStoreOptions tcp;
    tcp.port = static_cast<std::uint16_t>(o.master_port());
    tcp.isServer = server;
    tcp.numWorkers = static_cast<std::size_t>(o.world_size());
    // The ranks' own check below waits for the others, bounded, naming the
    // missing ones (c10d's wait for workers would not say who).
    tcp.waitWorkers = false;
    tcp.timeout = left_until(deadline);
    if (server) {
      try {
        store = c10::make_intrusive<c10d::TCPStore>(o.master_addr(), tcp);
      } catch (const std::exception &e) {
        if (port_in_use(o.master_port())) fail(o, in_use);  // taken since the check above
        throw;
      }
    } else {
      store = connect_within(o, tcp, deadline);
    }
  }
  store->setTimeout(timeout_of(o));
  return c10::make_intrusive<c10d::PrefixStore>(o.store_prefix(), store);
}

// Whether the keys appeared before `deadline`: "" if so, else why not (out
// of time, or the store's host stopped). Polls check(): the stores' own
// wait() rounds its timeout to whole seconds in some versions.
std::string wait_for(c10d::Store &store, const std::vector<std::string> &keys, Deadline deadline) {
  try {
    while (!store.check(keys)) {
      if (std::chrono::steady_clock::now() >= deadline) return "timeout";
      std::this_thread::sleep_for(Milliseconds(20));
    }
    return "";
  } catch (const std::exception &e) {
    const std::string cause = cause_of(e);
    return cause.empty() ? "the store failed" : cause;
  }
}

// "rank 1", "ranks 1, 3".
std::string ranks_text(const std::vector<int64_t> &ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

// Two processes started with one RANK: the second to join is refused here,
// the run through rank 0's verdict.
void claim_rank(c10::intrusive_ptr<c10d::Store> &store, const DistributedOptions &o) {
  if (store->add("claims/" + std::to_string(o.rank()), 1) <= 1) return;
  // A FileStore deletes its file once as many stores as ranks closed: the
  // refused process must not count, or the file goes under the others.
  if (!o.store_file().empty()) (void)store.release();
  fail(o, "another process already joined as rank " + std::to_string(o.rank()) + " through " + store_name(o) +
              ": each process needs its own RANK, 0 to " + std::to_string(o.world_size() - 1));
}

// Rank 0's verdict on the others' facts: "" when all agree.
std::string judge(c10d::Store &store, const DistributedOptions &o, const std::string &base, const Facts &ours,
                  Deadline deadline, bool claims) {
  std::vector<int64_t> missing;
  for (int64_t r = 1; r < o.world_size(); ++r) {
    const std::string key = base + std::to_string(r);
    if (!wait_for(store, {key}, deadline).empty()) {
      missing.push_back(r);
      continue;
    }
    Facts theirs;
    try {
      theirs = decode_facts(text_of(store.get(key)));
    } catch (const std::runtime_error &e) {
      return "rank " + std::to_string(r) + " sent " + e.what() + " (another nrnm-native version?)";
    }
    const std::string differ = differences(r, theirs, 0, ours);
    if (!differ.empty()) {
      return "the ranks disagree: " + differ +
             ". Start every rank with the same options (only the seed and the device may differ)";
    }
    if (claims && store.add("claims/" + std::to_string(r), 0) > 1) {
      return "rank " + std::to_string(r) + " was started twice (two processes with RANK=" + std::to_string(r) +
             "): each process needs its own RANK, 0 to " + std::to_string(o.world_size() - 1);
    }
  }
  if (missing.empty()) return "";
  return "could not join " + ranks_text(missing) + " within " + seconds_text(o.timeout_seconds()) + " through " +
         store_name(o) + ": check that " + ranks_text(missing) +
         " started, with the same store (MASTER_ADDR / MASTER_PORT, or store file) and WORLD_SIZE " +
         std::to_string(o.world_size());
}

// One round of the check: each rank writes its facts, rank 0 compares them
// with its own and writes a verdict, every rank waits for it (bounded).
void agree_through(c10d::Store &store, const DistributedOptions &o, const std::string &round, const Facts &facts,
                   Deadline deadline, bool claims) {
  const std::string base = "agree/" + round + "/";
  const std::string verdict_key = base + "verdict";
  store.set(base + std::to_string(o.rank()), bytes_of(encode_facts(facts)));
  if (o.rank() == 0) {
    const std::string verdict = judge(store, o, base, facts, deadline, claims);
    store.set(verdict_key, bytes_of(verdict.empty() ? "ok" : "no" + verdict));
    if (verdict.empty()) return;
    // Rank 0 may host the store: the ranks that joined read the verdict
    // before it goes (bounded: one may have stopped meanwhile).
    std::vector<std::string> seen;
    for (int64_t r = 1; r < o.world_size(); ++r) {
      if (store.check({base + std::to_string(r)})) seen.push_back(base + "seen/" + std::to_string(r));
    }
    if (!seen.empty())
      wait_for(store, seen, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2)));
    fail(o, verdict);
  }
  const std::string why = wait_for(store, {verdict_key}, deadline);
  if (!why.empty()) {
    fail(o, "rank 0 did not check the ranks' options within " + seconds_text(o.timeout_seconds()) + " through " +
                store_name(o) + " (" + why + "): check that rank 0 started, with the same store and WORLD_SIZE " +
                std::to_string(o.world_size()));
  }
  const std::string verdict = text_of(store.get(verdict_key));
  store.set(base + "seen/" + std::to_string(o.rank()), bytes_of("1"));
  if (verdict != "ok") fail(o, verdict.substr(2));
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

void rethrow_joining(const DistributedOptions &o, const std::exception &e) {
  if (dynamic_cast<const DistributedError *>(&e) != nullptr) throw;
  fail(o, "could not join the other ranks through " + store_name(o) + " within " + seconds_text(o.timeout_seconds()) +
              ": " + cause_of(e) + ". Start all " + std::to_string(o.world_size()) +
              " ranks with the same store (MASTER_ADDR / MASTER_PORT) and check that " +
              peers_of(o.rank(), o.world_size()) + " started.");
}

struct DistributedGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> backend;
  double allreduce_ms = 0;
};

DistributedGroup::DistributedGroup(DistributedOptions options)
    : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  check_options(options_);
  const auto &o = options_;
  const Deadline deadline = std::chrono::steady_clock::now() + timeout_of(o);
  try {
    impl_->store = make_store(o, deadline);
    claim_rank(impl_->store, o);
    Facts facts{{"world size", std::to_string(o.world_size())}};
    facts.insert(facts.end(), o.agreement().begin(), o.agreement().end());
    agree_through(*impl_->store, o, "join", facts, deadline, true);
    impl_->backend = make_backend(impl_->store, o);
  } catch (const std::exception &e) {
    rethrow_joining(o, e);
  }
}

void DistributedGroup::agree(const Facts &facts, const std::string &round) {
  try {
    agree_through(*impl_->store, options_, round, facts, std::chrono::steady_clock::now() + timeout_of(options_),
                  false);
  } catch (const std::exception &e) {
    rethrow_joining(options_, e);
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
    fail(o, std::string(what) + " failed: " + cause_of(e) + ". " + peers_of(o.rank(), o.world_size()) +
                " stopped (crashed or killed) or did not answer within " + seconds_text(o.timeout_seconds()) +
                "; training stops on every rank. The last checkpoint written stays loadable.");
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
