#!/usr/bin/env bash
# One command for a visit to the GPU machine (DEVELOPERS.md: H200, CUDA 13,
# Python 3.12 with torch 2.11.0+cu130, no Node, no network). Prepare here
# first with `bash bench/gpu-prepare.sh` (Node, node_modules, GoogleTest and
# Gloo headers into .device/), then there:
#
#   run(command="bash bench/gpu-session.sh", carry=[".device"])
#
# It builds the addon and the C++ tests against python3's (CUDA) torch with
# the project's own build (scripts/build.js: discovery, CUDA toolkit and
# nvidia-* packages as a user's install finds them), runs ctest (the CUDA
# tests run instead of skipping) and the whole jest suite with that binary,
# then the benchmark in fp32, tf32 and bf16 (fp32 only without a GPU). Logs
# and JSON go to $OUT (default ./gpu-out), 8 files at most:
# environment.txt build.log ctest.log jest.log bench.log bench-{fp32,tf32,bf16}.json
#
#   QUICK=1 bash bench/gpu-session.sh     # small config, few steps (the dry run on a CPU)
#   NRNM_PYTHON=/usr/bin/python3 ...      # another interpreter's torch (the dry run here)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$root/gpu-out}
build=${BUILD_DIR:-$root/build/gpu-session}
dev=$root/.device
mkdir -p "$out"
t0=$(date +%s)
status=0
stamp() { echo "session: $1 in $(( $(date +%s) - $2 )) s" | tee -a "$out/environment.txt"; }

# 1. Node and node_modules from .device (the machine has neither).
if [ -s "$dev/node.tgz" ]; then
  node_home=${TMPDIR:-/tmp}/nrnm-node
  [ -x "$node_home/bin/node" ] || { mkdir -p "$node_home" && tar -xzf "$dev/node.tgz" -C "$node_home" --strip-components=1; }
  export PATH="$node_home/bin:$PATH"
fi
if [ ! -d node_modules/cmake-js ] && [ -s "$dev/node_modules.tgz" ]; then
  tar -xzf "$dev/node_modules.tgz"
fi
command -v node >/dev/null || { echo "session: no Node: run bench/gpu-prepare.sh here and carry .device"; exit 1; }
[ -d node_modules/cmake-js ] || { echo "session: no node_modules: run bench/gpu-prepare.sh here and carry .device"; exit 1; }
# npm's own launcher needs npm; `node node_modules/.bin/...` does not.
jest=(node node_modules/jest/bin/jest.js)

extra=()
[ -d "$dev/googletest" ] && extra+=("--CDGTEST_SOURCE_DIR=$dev/googletest")
[ -d "$dev/gloo/include/gloo" ] && extra+=("--CDNRNM_GLOO_INCLUDE_DIR=$dev/gloo/include")

{
  echo "date: $(date -u +%FT%TZ)"
  echo "node: $(command -v node) $(node --version)"
  echo "python: ${NRNM_PYTHON:-python3} $("${NRNM_PYTHON:-python3}" -c 'import torch, sys; print(sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda)' 2>&1 | tail -n 1)"
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  command -v nvcc >/dev/null && nvcc --version | tail -n 1
  echo "libtorch: $(node -p "const l = require('./scripts/libtorch.js').findLibTorch(); l.variant + ' ' + l.root" 2>&1)"
} | tee "$out/environment.txt"

# 2. Build: the addon, the C++ tests and nrnm_bench, in one tree.
t=$(date +%s)
node scripts/build.js --out "$build" -- --CDNRNM_BUILD_TESTS=ON --CDNRNM_BUILD_BENCH=ON "${extra[@]}" > "$out/build.log" 2>&1 \
  || { grep -m20 -E "error|Error" "$out/build.log"; tail -20 "$out/build.log"; exit 1; }
grep -E "^-- nrnm" "$out/build.log" | tee -a "$out/environment.txt"
stamp "build" "$t"
addon=$build/Release/nrnm_native.node
# The CLI runs from dist/ (npm's `prepare` would compile it).
node node_modules/typescript/bin/tsc -p tsconfig.build.json >> "$out/build.log" 2>&1 || status=1
NRNM_NATIVE_BINARY=$addon node bin/nrnm-native info 2>&1 | tee -a "$out/environment.txt"

# 3. C++ tests.
t=$(date +%s)
ctest --test-dir "$build" --output-on-failure --no-tests=error --timeout 600 -j"$(nproc)" > "$out/ctest.log" 2>&1 || status=1
grep -E "tests passed|tests failed|\(Skipped\)|\(Failed\)" "$out/ctest.log" | tee -a "$out/environment.txt"
stamp "ctest" "$t"

# 4. The jest suite with this binary (the CUDA blocks run where a GPU is).
t=$(date +%s)
NRNM_NATIVE_BINARY=$addon "${jest[@]}" > "$out/jest.log" 2>&1 || status=1
grep -E "^(Tests|Test Suites):|skipped: " "$out/jest.log" | sort -u | tee -a "$out/environment.txt"
stamp "jest" "$t"

# 5. Benchmark (nrnm_bench: no Node in the timed process).
t=$(date +%s)
bench=$build/native/nrnm/nrnm_bench
py=${NRNM_PYTHON:-python3}
device=$("$bench" --config small --steps 1 --warmup 0 --infer-steps -1 --device auto --json 2>/dev/null \
  | "$py" -c 'import json,sys; print(json.load(sys.stdin)["environment"]["device"])' 2>/dev/null || echo cpu)
precisions="fp32"
case "$device" in cuda*) precisions="fp32 tf32 bf16" ;; esac
flags=(--config all --steps 20 --warmup 5 --infer-steps 50)
[ -n "${QUICK:-}" ] && flags=(--config small --steps 3 --warmup 1 --infer-steps 3)
: > "$out/bench.log"
for precision in $precisions; do
  echo "bench $precision on $device" | tee -a "$out/bench.log"
  "$bench" "${flags[@]}" --device auto --precision "$precision" --json \
    > "$out/bench-$precision.json" 2>> "$out/bench.log" || { status=1; tail -5 "$out/bench.log"; continue; }
  "$py" - "$out/bench-$precision.json" <<'PY' | tee -a "$out/bench.log"
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
stamp "bench" "$t"
stamp "session (status $status)" "$t0"
exit $status
