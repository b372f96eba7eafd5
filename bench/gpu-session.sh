#!/usr/bin/env bash
# One command for a visit to a GPU machine (no Node there): builds native/nrnm
# against the machine's CUDA LibTorch, runs the C++ tests (the CUDA ones run
# instead of skipping: kernels vs the ATen path, CUDA vs CPU, tf32/bf16
# trainer steps) and the benchmark in fp32, tf32 and bf16, and leaves the logs
# and JSON in $OUT (default ./gpu-out).
#
#   bash bench/gpu-session.sh                 # full: --config all
#   QUICK=1 bash bench/gpu-session.sh         # small config, few steps (a dry run, also on a CPU)
#
# LibTorch: TORCH_CMAKE_PREFIX, else the CMake prefix of python3's torch, else
# CMake's default search. GoogleTest: libgtest-dev, or GTEST_SOURCE_DIR
# pointing at a googletest source tree (GPU machines usually lack the former;
# carry /usr/src/googletest into the repository, e.g. as .device/googletest).
set -uo pipefail
out=${OUT:-$PWD/gpu-out}
build=${BUILD_DIR:-build/gpu-session}
mkdir -p "$out"

prefix=${TORCH_CMAKE_PREFIX:-}
if [ -z "$prefix" ] && command -v python3 >/dev/null; then
  candidate=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
  [ -n "$candidate" ] && [ -d "$candidate" ] && prefix=$candidate
fi
gtest=${GTEST_SOURCE_DIR:-}
[ -z "$gtest" ] && [ -d .device/googletest ] && gtest=$PWD/.device/googletest

{
  echo "date: $(date -u +%FT%TZ)"
  echo "torch cmake prefix: ${prefix:-<cmake default>}"
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  command -v nvcc >/dev/null && nvcc --version | tail -1
} | tee "$out/environment.txt"

cmake -S native/nrnm -B "$build" -DCMAKE_BUILD_TYPE=Release \
  ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} ${gtest:+-DGTEST_SOURCE_DIR="$gtest"} \
  > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
grep -E "nrnm|CUDA" "$out/configure.log" | tee -a "$out/environment.txt"
cmake --build "$build" -j"$(nproc)" > "$out/build.log" 2>&1 || { grep -m20 -E "error" "$out/build.log"; exit 1; }

status=0
ctest --test-dir "$build" --output-on-failure --timeout 600 > "$out/ctest.log" 2>&1 || status=1
grep -E "tests passed|tests failed|Skipped|Failed" "$out/ctest.log"

device=$("$build"/nrnm_bench --config small --steps 1 --warmup 0 --infer-steps -1 --device auto --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["environment"]["device"])' 2>/dev/null || echo cpu)
precisions="fp32"
case "$device" in cuda*) precisions="fp32 tf32 bf16" ;; esac
flags=(--config all --steps 20 --warmup 5 --infer-steps 50)
[ -n "${QUICK:-}" ] && flags=(--config small --steps 3 --warmup 1 --infer-steps 3)
for precision in $precisions; do
  echo "bench $precision on $device"
  "$build"/nrnm_bench "${flags[@]}" --device auto --precision "$precision" --json \
    > "$out/bench-$precision.json" 2> "$out/bench-$precision.err" || { status=1; tail -5 "$out/bench-$precision.err"; continue; }
  python3 - "$out/bench-$precision.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(json.dumps(report["environment"]))
for result in report["results"]:
    models = {m["model"]: m for m in result["models"]}
    nrnm, lstm = models["nrnm"], models["lstm"]
    print("%-9s NRNM %9.2f ms [p10 %.2f, p90 %.2f]  LSTM %9.2f ms  NRNM/LSTM %.2fx  batch-1 %.2f / %.2f ms" % (
        result["config"]["name"], nrnm["train"]["medianMs"], nrnm["train"]["p10Ms"], nrnm["train"]["p90Ms"],
        lstm["train"]["medianMs"], nrnm["train"]["medianMs"] / lstm["train"]["medianMs"],
        nrnm["infer"]["medianMs"], lstm["infer"]["medianMs"]))
PY
done
exit $status
