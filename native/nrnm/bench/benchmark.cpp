#include "nrnm/bench/benchmark.h"

#include "nrnm/model/classifier.h"
#include "nrnm/runtime/cpu_allocator.h"
#include "nrnm/runtime/device.h"
#include "nrnm/model/lstm_baseline.h"
#include "nrnm/runtime/runtime_info.h"

#include <torch/cuda.h>
#include <torch/torch.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include <time.h>

#ifdef NRNM_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace nrnm {

BenchConfig bench_config(const std::string& name) {
  BenchConfig c;
  c.name = name;
  if (name == "small") {
    c.batch = 64;
    c.time_steps = 100;
    c.features = 150;
    c.hidden = 128;
    c.layers = 1;
    c.train_steps = 20;
    c.warmup = 3;
    c.infer_steps = 30;
    c.infer_warmup = 3;
  } else if (name == "official") {
    c.batch = 256;
    c.time_steps = 100;
    c.features = 150;
    c.hidden = 512;
    c.layers = 2;
    c.train_steps = 5;
    c.warmup = 1;
    c.infer_steps = 10;
    c.infer_warmup = 2;
  } else if (name == "long") {
    c.batch = 32;
    c.time_steps = 1000;
    c.features = 28;
    c.hidden = 128;
    c.layers = 1;
    // The official dilated aggregation is fixed to 150/512-wide inputs.
    c.aggregation = InputAggregation::kStrided;
    c.train_steps = 5;
    c.warmup = 1;
    c.infer_steps = 5;
    c.infer_warmup = 1;
  } else {
    TORCH_CHECK(false, "unknown benchmark config '", name, "'; expected small, official or long");
  }
  return c;
}

std::vector<std::string> bench_config_names() { return {"small", "official", "long"}; }

namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p * double(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (rank - double(lo)) * (sorted[hi] - sorted[lo]);
}

// Waits for the device so a timer around it measures finished work.
void synchronize(const torch::Device& device) {
#ifdef NRNM_WITH_CUDA
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
#else
  (void)device;
#endif
}

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time used by all threads of this process so far, in milliseconds.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
}

struct Built {
  std::shared_ptr<torch::nn::Module> module;
  torch::nn::AnyModule any;
  std::string description;
};

Built build_model(const BenchConfig& c, BenchModel model, const BenchOptions& o, const torch::Device& device) {
  Built built;
  if (model == BenchModel::kNRNM) {
    NRNMClassifier net(NRNMOptions(c.features, c.classes)
                           .hidden_size(c.hidden)
                           .layers(c.layers)
                           .block_length(c.block_length)
                           .stride(c.stride)
                           .input_aggregation(c.aggregation)
                           .seed(o.seed));
    net->to(device);
    built.module = net.ptr();
    built.any = torch::nn::AnyModule(net);
  } else {
    torch::manual_seed(o.seed);
    LSTMClassifier net(LSTMClassifierOptions(c.features, c.classes).hidden_size(c.hidden).layers(c.layers));
    net->to(device);
    built.module = net.ptr();
    built.any = torch::nn::AnyModule(net);
  }
  std::ostringstream text;
  built.module->pretty_print(text);
  built.description = text.str();
  return built;
}

}  // namespace

TimingSummary summarize(std::vector<double> samples_ms) {
  TimingSummary s;
  s.count = static_cast<int64_t>(samples_ms.size());
  s.samples_ms = samples_ms;
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.median_ms = percentile(samples_ms, 0.5);
  s.p10_ms = percentile(samples_ms, 0.1);
  s.p90_ms = percentile(samples_ms, 0.9);
  s.q1_ms = percentile(samples_ms, 0.25);
  s.q3_ms = percentile(samples_ms, 0.75);
  s.min_ms = samples_ms.front();
  s.max_ms = samples_ms.back();
  double sum = 0;
  for (double v : samples_ms) sum += v;
  s.mean_ms = sum / double(samples_ms.size());
  return s;
}

ModelBenchResult bench_model(const BenchConfig& c, BenchModel model, const BenchOptions& o) {
  TORCH_CHECK(c.batch > 0 && c.time_steps > 0 && c.features > 0 && c.hidden > 0 && c.layers > 0 && c.classes > 1,
              "benchmark config '", c.name, "': sizes must be positive");
  const int64_t train_steps = o.train_steps > 0 ? o.train_steps : c.train_steps;
  const int64_t warmup = o.warmup >= 0 ? o.warmup : c.warmup;
  const int64_t infer_steps = o.infer_steps == 0 ? c.infer_steps : std::max<int64_t>(o.infer_steps, 0);
  const int64_t infer_warmup = o.infer_warmup >= 0 ? o.infer_warmup : c.infer_warmup;
  const torch::Device device = resolve_device(o.device);

  Built built = build_model(c, model, o, device);
  ModelBenchResult result;
  result.model = model;
  result.description = built.description;
  for (const auto& p : built.module->parameters()) {
    if (p.requires_grad()) result.parameters += p.numel();
  }

  // One random batch, reused: x (B, T, F) ~ N(0, 1), y uniform class indices.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(o.seed + 1);
  const torch::Tensor x = at::normal(0.0, 1.0, {c.batch, c.time_steps, c.features}, generator).to(device);
  const torch::Tensor y = at::randint(0, c.classes, {c.batch}, generator, torch::dtype(torch::kLong)).to(device);

  {
    Trainer trainer(built.any, TrainerOptions().scheduler(SchedulerKind::kNone).precision(o.precision));
    std::vector<double> times, cpu_times;
    times.reserve(train_steps);
    cpu_times.reserve(train_steps);
    for (int64_t i = 0; i < warmup + train_steps; ++i) {
      synchronize(device);
      const double cpu_start = process_cpu_ms();
      const auto start = Clock::now();
      const StepResult step = trainer.step(x, y);  // ends with a host sync
      const double ms = elapsed_ms(start);
      const double cpu_ms = process_cpu_ms() - cpu_start;
      if (i >= warmup) {
        times.push_back(ms);
        cpu_times.push_back(cpu_ms);
      }
      result.last_loss = step.loss;
    }
    result.train = summarize(std::move(times));
    result.train_cpu = summarize(std::move(cpu_times));
    result.train_sequences_per_s = result.train.median_ms > 0 ? double(c.batch) * 1000.0 / result.train.median_ms : 0;
  }

  if (infer_steps > 0) {
    torch::NoGradGuard no_grad;
    built.module->eval();
    const torch::Tensor one = x.narrow(0, 0, 1).contiguous();  // (1, T, F)
    std::vector<double> times;
    times.reserve(infer_steps);
    for (int64_t i = 0; i < infer_warmup + infer_steps; ++i) {
      synchronize(device);
      const auto start = Clock::now();
      torch::Tensor logits = built.any.forward(one);
      synchronize(device);
      const double ms = elapsed_ms(start);
      TORCH_CHECK(logits.size(0) == 1 && logits.size(1) == c.classes, "benchmark: unexpected logits shape ",
                  logits.sizes());
      if (i >= infer_warmup) times.push_back(ms);
    }
    result.infer = summarize(std::move(times));
  }
  return result;
}

BenchEnvironment bench_environment(const std::string& device_spec) {
  const RuntimeInfo info = runtime_info();
  BenchEnvironment env;
  const torch::Device device = resolve_device(device_spec);
  env.device = device.str();
#ifdef NRNM_WITH_CUDA
  if (device.is_cuda()) {
    const int index = device.has_index() ? device.index() : 0;
    env.device = "cuda:" + std::to_string(index) + " (" + at::cuda::getDeviceProperties(index)->name + ")";
  }
#endif
  env.torch_version = info.torch_version;
  env.intra_op_threads = info.intra_op_threads;
  env.inter_op_threads = info.inter_op_threads;
  env.blas_threads = info.blas_threads;
  env.blas = info.blas.empty() ? "unknown" : info.blas;
  env.cpu_caching_allocator = cpu_cache_stats().enabled;
  const std::string marker = "ATen parallel backend: ";
  const size_t at = info.parallel_info.find(marker);
  if (at != std::string::npos) {
    const size_t begin = at + marker.size();
    env.parallel_backend = info.parallel_info.substr(begin, info.parallel_info.find('\n', begin) - begin);
  }
  return env;
}

}  // namespace nrnm
