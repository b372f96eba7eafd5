// nrnm_bench: the benchmark of `nrnm-native bench` without Node (what a GPU
// machine runs cheaply). Trains NRNM and the equal torch::nn::LSTM on random
// data in this process and prints a table, or JSON with --json.
//
//   nrnm_bench [--config small|official|long|all] [--steps N] [--warmup N]
//              [--infer-steps N] [--infer-warmup N] [--model both|nrnm|lstm]
//              [--device cpu|cuda|cuda:N|auto] [--precision fp32|tf32|bf16]
//              [--threads N] [--blas-threads N] [--seed N] [--json]

#include "nrnm/bench/benchmark.h"
#include "nrnm/runtime/runtime_info.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Args {
  std::string config = "small";
  std::string model = "both";
  std::string precision = "fp32";
  nrnm::BenchOptions options;
  int64_t threads = 0;
  int64_t blas_threads = 0;
  bool json = false;
};

[[noreturn]] void usage(const std::string& error) {
  std::cerr << "nrnm_bench: " << error << "\n"
            << "usage: nrnm_bench [--config small|official|long|all] [--steps N] [--warmup N]\n"
            << "                  [--infer-steps N (-1: skip)] [--infer-warmup N]\n"
            << "                  [--model both|nrnm|lstm] [--device cpu|cuda|cuda:N|auto]\n"
            << "                  [--precision fp32|tf32|bf16] [--threads N] [--blas-threads N]\n"
            << "                  [--seed N] [--json]\n";
  std::exit(2);
}

int64_t integer(const std::string& flag, const std::string& value, int64_t min) {
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min) {
    usage("expected " + flag + " to be an integer >= " + std::to_string(min) + " but received '" + value + "'");
  }
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--json") {
      a.json = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") usage("help");
    if (i + 1 >= argc) usage("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--config")
      a.config = value;
    else if (flag == "--steps")
      a.options.train_steps = integer(flag, value, 1);
    else if (flag == "--warmup")
      a.options.warmup = integer(flag, value, 0);
    else if (flag == "--infer-steps")
      a.options.infer_steps = integer(flag, value, -1);
    else if (flag == "--infer-warmup")
      a.options.infer_warmup = integer(flag, value, 0);
    else if (flag == "--model")
      a.model = value;
    else if (flag == "--device")
      a.options.device = value;
    else if (flag == "--precision")
      a.precision = value;
    else if (flag == "--threads")
      a.threads = integer(flag, value, 1);
    else if (flag == "--blas-threads")
      a.blas_threads = integer(flag, value, 1);
    else if (flag == "--seed")
      a.options.seed = static_cast<uint64_t>(integer(flag, value, 0));
    else
      usage("unknown flag " + flag);
  }
  const std::vector<std::string> configs = nrnm::bench_config_names();
  if (a.config != "all" && std::find(configs.begin(), configs.end(), a.config) == configs.end()) {
    usage("expected --config to be small, official, long or all but received '" + a.config + "'");
  }
  if (a.model != "both" && a.model != "nrnm" && a.model != "lstm") {
    usage("expected --model to be both, nrnm or lstm but received '" + a.model + "'");
  }
  if (const auto precision = nrnm::from_string<nrnm::Precision>(a.precision))
    a.options.precision = *precision;
  else
    usage("expected --precision to be fp32, tf32 or bf16 but received '" + a.precision + "'");
  return a;
}

std::string fixed(double v, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

std::string json_timing(const nrnm::TimingSummary& t) {
  std::ostringstream o;
  o << "{\"count\":" << t.count << ",\"medianMs\":" << t.median_ms << ",\"p10Ms\":" << t.p10_ms
    << ",\"p90Ms\":" << t.p90_ms << ",\"q1Ms\":" << t.q1_ms << ",\"q3Ms\":" << t.q3_ms << ",\"minMs\":" << t.min_ms
    << ",\"maxMs\":" << t.max_ms << ",\"meanMs\":" << t.mean_ms << ",\"samplesMs\":[";
  for (size_t i = 0; i < t.samples_ms.size(); ++i) o << (i ? "," : "") << t.samples_ms[i];
  o << "]}";
  return o.str();
}

std::string json_model(const nrnm::ModelBenchResult& m) {
  std::ostringstream o;
  o << "{\"model\":" << json_string(nrnm::to_string(m.model)) << ",\"description\":" << json_string(m.description)
    << ",\"parameters\":" << m.parameters << ",\"train\":" << json_timing(m.train)
    << ",\"trainCpu\":" << json_timing(m.train_cpu) << ",\"trainSequencesPerS\":" << m.train_sequences_per_s
    << ",\"infer\":" << json_timing(m.infer) << ",\"lastLoss\":" << m.last_loss << "}";
  return o.str();
}

void print_row(const nrnm::BenchConfig& c, const nrnm::ModelBenchResult& m) {
  std::printf("%-9s %-5s %10s %20s %10s %10s %10s %20s\n", c.name.c_str(), nrnm::to_string(m.model),
              fixed(m.train.median_ms, 1).c_str(),
              (fixed(m.train.p10_ms, 1) + " / " + fixed(m.train.p90_ms, 1)).c_str(),
              fixed(m.train_sequences_per_s, 1).c_str(), fixed(m.train_cpu.median_ms, 1).c_str(),
              m.infer.count ? fixed(m.infer.median_ms, 2).c_str() : "-",
              m.infer.count ? (fixed(m.infer.p10_ms, 2) + " / " + fixed(m.infer.p90_ms, 2)).c_str() : "-");
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  try {
    nrnm::apply_cpu_defaults();
    if (args.threads > 0) nrnm::set_threads(args.threads);
    if (args.blas_threads > 0 && !nrnm::set_blas_threads(args.blas_threads)) {
      std::cerr << "nrnm_bench: --blas-threads ignored: the BLAS is not OpenBLAS\n";
    }
    const nrnm::BenchEnvironment env = nrnm::bench_environment(args.options.device);
    std::vector<std::string> names =
        args.config == "all" ? nrnm::bench_config_names() : std::vector<std::string>{args.config};
    if (!args.json) {
      std::printf("device %s, LibTorch %s, %s intra-op threads %lld, OpenBLAS threads %lld, caching CPU allocator %s\n",
                  env.device.c_str(), env.torch_version.c_str(), env.parallel_backend.c_str(),
                  static_cast<long long>(env.intra_op_threads), static_cast<long long>(env.blas_threads),
                  env.cpu_caching_allocator ? "on" : "off");
      std::printf("%-9s %-5s %10s %20s %10s %10s %10s %20s\n", "config", "model", "step ms", "p10 / p90 ms", "seq/s",
                  "cpu ms", "infer ms", "p10 / p90 ms");
    }
    std::ostringstream json;
    json << "{\"environment\":{\"device\":" << json_string(env.device)
         << ",\"torchVersion\":" << json_string(env.torch_version) << ",\"intraOpThreads\":" << env.intra_op_threads
         << ",\"interOpThreads\":" << env.inter_op_threads << ",\"blasThreads\":" << env.blas_threads
         << ",\"parallelBackend\":" << json_string(env.parallel_backend) << ",\"blas\":" << json_string(env.blas)
         << ",\"cpuCachingAllocator\":" << (env.cpu_caching_allocator ? "true" : "false") << "},\"results\":[";
    bool first = true;
    for (const std::string& name : names) {
      const nrnm::BenchConfig config = nrnm::bench_config(name);
      std::vector<nrnm::ModelBenchResult> done;
      for (auto model : {nrnm::BenchModel::kNRNM, nrnm::BenchModel::kLSTM}) {
        if (args.model != "both" && args.model != nrnm::to_string(model)) continue;
        done.push_back(nrnm::bench_model(config, model, args.options));
        if (!args.json) {
          print_row(config, done.back());
          std::fflush(stdout);
        }
      }
      const bool both = done.size() == 2 && done[1].train.median_ms > 0;
      const double ratio = both ? done[0].train.median_ms / done[1].train.median_ms : 0;
      if (!args.json && both) {
        std::printf("%-9s ratio NRNM / LSTM step time %.2fx (median)\n", name.c_str(), ratio);
      }
      json << (first ? "" : ",") << "{\"config\":{\"name\":" << json_string(name) << ",\"batch\":" << config.batch
           << ",\"timeSteps\":" << config.time_steps << ",\"features\":" << config.features
           << ",\"hidden\":" << config.hidden << ",\"layers\":" << config.layers << ",\"classes\":" << config.classes
           << ",\"aggregation\":" << json_string(nrnm::to_string(config.aggregation)) << "},\"models\":[";
      for (size_t i = 0; i < done.size(); ++i) json << (i ? "," : "") << json_model(done[i]);
      json << "]";
      if (both) json << ",\"ratio\":" << ratio;
      json << "}";
      first = false;
    }
    json << "]}";
    if (args.json) std::cout << json.str() << std::endl;
    return 0;
  } catch (const c10::Error& e) {
    std::cerr << "nrnm_bench: " << e.what_without_backtrace() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "nrnm_bench: " << e.what() << "\n";
  }
  return 1;
}
