#pragma once

// Benchmark: training throughput and batch-1 inference latency of NRNM and of
// the equal LibTorch LSTM (torch::nn::LSTM, same input/hidden/layers), in one
// process, after warm-up. Shared by the standalone `nrnm_bench` executable
// (bench/nrnm_bench.cpp, what a GPU machine runs without Node) and the
// addon's `bench.run` (npm run bench / nrnm-native bench).
//
// A training step is Trainer::step: forward, cross-entropy, zero_grad,
// backward, grad norm, Adam step (lr 1e-3, weight decay 1e-4, as the official
// script), and one host synchronisation for the reported loss. Inference is
// forward() in eval mode without autograd on one sequence.

#include "nrnm/model/options.h"
#include "nrnm/train/trainer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nrnm {

/// One benchmark shape. Presets: bench_config("small" | "official" | "long").
struct BenchConfig {
  std::string name;
  int64_t batch = 64;         // B
  int64_t time_steps = 100;   // T
  int64_t features = 150;     // F
  int64_t hidden = 128;       // H, NRNM and LSTM
  int64_t layers = 1;         // L, NRNM and LSTM
  int64_t classes = 60;       // C (NTU RGB+D)
  int64_t block_length = 10;  // k
  int64_t stride = 5;         // s
  /// Dilated needs 150 or 512 wide inputs in the official code (k=10, s=5);
  /// `long` (28 features) uses strided.
  InputAggregation aggregation = InputAggregation::kDilated;
  /// Defaults chosen so that each config finishes in about a minute on two
  /// CPU cores; override with BenchOptions.
  int64_t train_steps = 20;
  int64_t warmup = 3;
  int64_t infer_steps = 20;
  int64_t infer_warmup = 3;
};

/// small: B64 T100 F150 1x128 dilated; official: B256 T100 F150 2x512
/// dilated; long: B32 T1000 F28 1x128 strided (k=10, s=5). Throws
/// (c10::Error) on an unknown name.
BenchConfig bench_config(const std::string& name);
/// {"small", "official", "long"}.
std::vector<std::string> bench_config_names();

enum class BenchModel {
  kNRNM,  // NRNMClassifier with the official options (zoneout, dropouts on)
  kLSTM,  // LSTMClassifier: torch::nn::LSTM + Linear head
};
template <>
struct EnumNames<BenchModel> {
  static constexpr const char* option = "model";
  static constexpr std::array<std::pair<BenchModel, const char*>, 2> table{
      {{BenchModel::kNRNM, "nrnm"}, {BenchModel::kLSTM, "lstm"}}};
};

struct BenchOptions {
  /// Timed training steps; 0: the config's default.
  int64_t train_steps = 0;
  /// Untimed training steps first; -1: the config's default.
  int64_t warmup = -1;
  /// Timed batch-1 forward calls; 0: the config's default; -1: skip inference.
  int64_t infer_steps = 0;
  /// Untimed batch-1 forward calls first; -1: the config's default.
  int64_t infer_warmup = -1;
  /// "cpu", "cuda", "cuda:N" or "auto" (resolve_device).
  std::string device = "cpu";
  /// Trainer precision (tf32 / bf16 only on CUDA).
  Precision precision = Precision::kFP32;
  /// Seeds the model and the random batch.
  uint64_t seed = 0;
};

/// Order statistics of a list of durations, in milliseconds.
struct TimingSummary {
  int64_t count = 0;
  double median_ms = 0;
  double p10_ms = 0;  // 10th percentile (linear interpolation)
  double p90_ms = 0;
  double q1_ms = 0;  // 25th percentile
  double q3_ms = 0;  // 75th percentile
  double min_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
  std::vector<double> samples_ms;  // in the order measured
};

/// Percentiles of `samples_ms` (empty gives all zeros).
TimingSummary summarize(std::vector<double> samples_ms);

struct ModelBenchResult {
  BenchModel model = BenchModel::kNRNM;
  std::string description;  // pretty_print, e.g. NRNMClassifier(150, 60, ...)
  int64_t parameters = 0;   // trainable scalars
  TimingSummary train;      // one Trainer::step each, wall clock
  /// CPU time of the whole process (all threads) per step: on a shared
  /// machine less disturbed by other processes than the wall clock; about
  /// the wall time times the busy threads (spinning OpenMP/BLAS threads count).
  TimingSummary train_cpu;
  double train_sequences_per_s = 0;  // batch / median step time
  TimingSummary infer;               // one batch-1 forward each (count 0 when skipped)
  double last_loss = 0;              // sanity: finite, about log(classes) at the start
};

/// Builds the model, its trainer and a random batch on the device, then
/// times warm-up + timed steps and batch-1 inference.
ModelBenchResult bench_model(const BenchConfig& config, BenchModel model, const BenchOptions& options);

/// What the numbers ran on.
struct BenchEnvironment {
  std::string device;  // e.g. "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)"
  std::string torch_version;
  int64_t intra_op_threads = 0;  // at::get_num_threads()
  int64_t inter_op_threads = 0;
  int64_t blas_threads = 0;            // OpenBLAS threads, 0 when not OpenBLAS
  std::string parallel_backend;        // "OpenMP", ...
  std::string blas;                    // "OpenBLAS 0.3.21 ..." or "unknown"
  bool cpu_caching_allocator = false;  // cpu_allocator.h installed
};
BenchEnvironment bench_environment(const std::string& device);

}  // namespace nrnm
