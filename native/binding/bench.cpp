// bench: the benchmark of native/nrnm/bench/benchmark.h for src/bench.ts.
//   bench.configs()                  -> ['small', 'official', 'long']
//   bench.config(name)               -> the preset (sizes and default step counts)
//   bench.environment(device)        -> device, LibTorch version, threads, BLAS
//   bench.run(options)               -> Promise of one model's timings
//   bench.setBlasThreads(n)          -> false when the BLAS is not OpenBLAS
// Options arrive validated and fully defaulted from src/bench.ts.
#include <napi.h>

#include <string>
#include <utility>

#include "errors.h"
#include "nrnm/bench/benchmark.h"
#include "nrnm/runtime/runtime_info.h"
#include "promise_worker.h"

namespace nrnm_binding {

namespace {

int64_t IntField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw CodedError("ERR_ARG", std::string("bench options: '") + name + "' must be a number");
  return v.As<Napi::Number>().Int64Value();
}

std::string StringField(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsString()) throw CodedError("ERR_ARG", std::string("bench options: '") + name + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Object ConfigToJs(Napi::Env env, const nrnm::BenchConfig& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", c.name);
  o.Set("batch", static_cast<double>(c.batch));
  o.Set("timeSteps", static_cast<double>(c.time_steps));
  o.Set("features", static_cast<double>(c.features));
  o.Set("hidden", static_cast<double>(c.hidden));
  o.Set("layers", static_cast<double>(c.layers));
  o.Set("classes", static_cast<double>(c.classes));
  o.Set("blockLength", static_cast<double>(c.block_length));
  o.Set("stride", static_cast<double>(c.stride));
  o.Set("aggregation", nrnm::to_string(c.aggregation));
  o.Set("trainSteps", static_cast<double>(c.train_steps));
  o.Set("warmup", static_cast<double>(c.warmup));
  o.Set("inferSteps", static_cast<double>(c.infer_steps));
  o.Set("inferWarmup", static_cast<double>(c.infer_warmup));
  return o;
}

Napi::Object TimingToJs(Napi::Env env, const nrnm::TimingSummary& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", static_cast<double>(t.count));
  o.Set("medianMs", t.median_ms);
  o.Set("p10Ms", t.p10_ms);
  o.Set("p90Ms", t.p90_ms);
  o.Set("q1Ms", t.q1_ms);
  o.Set("q3Ms", t.q3_ms);
  o.Set("minMs", t.min_ms);
  o.Set("maxMs", t.max_ms);
  o.Set("meanMs", t.mean_ms);
  Napi::Array samples = Napi::Array::New(env, t.samples_ms.size());
  for (size_t i = 0; i < t.samples_ms.size(); ++i) samples.Set(static_cast<uint32_t>(i), t.samples_ms[i]);
  o.Set("samplesMs", samples);
  return o;
}

Napi::Value Configs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto names = nrnm::bench_config_names();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
  return out;
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "bench.config", [&]() -> Napi::Value {
    if (!info[0].IsString()) throw CodedError("ERR_ARG", "bench.config expects a config name");
    return ConfigToJs(info.Env(), nrnm::bench_config(info[0].As<Napi::String>().Utf8Value()));
  });
}

Napi::Value Environment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "bench.environment", [&]() -> Napi::Value {
    const std::string device = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
    const nrnm::BenchEnvironment e = nrnm::bench_environment(device);
    Napi::Object o = Napi::Object::New(env);
    o.Set("device", e.device);
    o.Set("torchVersion", e.torch_version);
    o.Set("intraOpThreads", static_cast<double>(e.intra_op_threads));
    o.Set("interOpThreads", static_cast<double>(e.inter_op_threads));
    o.Set("blasThreads", static_cast<double>(e.blas_threads));
    o.Set("parallelBackend", e.parallel_backend);
    o.Set("blas", e.blas);
    o.Set("cpuCachingAllocator", e.cpu_caching_allocator);
    return o;
  });
}

Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guard(env, "bench.run", [&]() -> Napi::Value {
    if (!info[0].IsObject()) throw CodedError("ERR_ARG", "bench.run expects an options object");
    const Napi::Object o = info[0].As<Napi::Object>();
    const nrnm::BenchConfig config = nrnm::bench_config(StringField(o, "config"));
    const std::string model_name = StringField(o, "model");
    if (model_name != "nrnm" && model_name != "lstm") {
      throw CodedError("ERR_ARG", "bench options: 'model' must be nrnm or lstm");
    }
    const nrnm::BenchModel model = model_name == "nrnm" ? nrnm::BenchModel::kNRNM : nrnm::BenchModel::kLSTM;
    nrnm::BenchOptions options;
    options.train_steps = IntField(o, "trainSteps");
    options.warmup = IntField(o, "warmup");
    options.infer_steps = IntField(o, "inferSteps");
    options.infer_warmup = IntField(o, "inferWarmup");
    options.device = StringField(o, "device");
    options.seed = static_cast<uint64_t>(IntField(o, "seed"));
    const std::optional<nrnm::Precision> precision = nrnm::from_string<nrnm::Precision>(StringField(o, "precision"));
    if (!precision) throw CodedError("ERR_ARG", "bench options: 'precision' must be fp32, tf32 or bf16");
    options.precision = *precision;
    return PromiseWorker<nrnm::ModelBenchResult>::Run(
        env, "bench.run", [config, model, options]() { return nrnm::bench_model(config, model, options); },
        [config](Napi::Env env, nrnm::ModelBenchResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("config", ConfigToJs(env, config));
          out.Set("model", nrnm::to_string(r.model));
          out.Set("description", r.description);
          out.Set("parameters", static_cast<double>(r.parameters));
          out.Set("train", TimingToJs(env, r.train));
          out.Set("trainCpu", TimingToJs(env, r.train_cpu));
          out.Set("trainSequencesPerS", r.train_sequences_per_s);
          out.Set("infer", TimingToJs(env, r.infer));
          out.Set("lastLoss", r.last_loss);
          return out;
        });
  });
}

Napi::Value SetBlasThreads(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), "bench.setBlasThreads", [&]() -> Napi::Value {
    if (!info[0].IsNumber()) throw CodedError("ERR_ARG", "setBlasThreads expects a number");
    return Napi::Boolean::New(info.Env(), nrnm::set_blas_threads(info[0].As<Napi::Number>().Int64Value()));
  });
}

}  // namespace

Napi::Object DefineBench(Napi::Env env) {
  Napi::Object bench = Napi::Object::New(env);
  bench.Set("configs", Napi::Function::New<Configs>(env, "configs"));
  bench.Set("config", Napi::Function::New<Config>(env, "config"));
  bench.Set("environment", Napi::Function::New<Environment>(env, "environment"));
  bench.Set("run", Napi::Function::New<Run>(env, "run"));
  bench.Set("setBlasThreads", Napi::Function::New<SetBlasThreads>(env, "setBlasThreads"));
  return bench;
}

}  // namespace nrnm_binding
