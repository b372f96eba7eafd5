#!/usr/bin/env bash
# The CUDA variant on a machine without a GPU: builds the addon and the C++
# tests against pip's CUDA torch (torch 2.14.1+cu130 and its nvidia-*
# packages, in a venv), runs ctest and jest against that build (the GPU tests
# skip and say why), and makes the CUDA prebuild from it (prebuilds/torch2.14-cu13-cxx11,
# which scripts/ci/pack-install-test.sh then packs and installs).
# Prints the time of each part. Skips with one line when pip's CUDA torch
# cannot be had here.
#
#   bash scripts/ci/cuda-check.sh            # NRNM_CUDA_VENV (default /opt/venv-cu130)
#   NRNM_CUDA_JEST=native bash scripts/ci/cuda-check.sh   # only the jest suites of the native layer
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${NRNM_CUDA_VENV:-/opt/venv-cu130}
python=$venv/bin/python
t0=$(date +%s)
stamp() { echo "cuda: $1 in $(( $(date +%s) - $2 )) s"; }

has_cuda_torch() {
  "$python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' >/dev/null 2>&1
}

# 1. pip's CUDA torch (the install a user does; ~75 s and 4.5 GB from the local index).
if ! has_cuda_torch; then
  if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
    echo "cuda: no python3 with venv here to install pip's CUDA torch into; skipped"; exit 0
  fi
  log=$(mktemp /tmp/nrnm-cuda-pip-XXXXXX.log)
  if ! { python3 -m venv "$venv" &&
    "$venv/bin/pip" install --retries 0 --no-deps torch==2.14.1 &&
    "$venv/bin/pip" install --retries 0 \
      "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3" \
      nvidia-cudnn-cu13==9.24.0.43 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 \
      nvidia-nvshmem-cu13==3.4.5 filelock typing-extensions sympy networkx jinja2 fsspec numpy; } > "$log" 2>&1; then
    echo "cuda: pip's CUDA torch (torch==2.14.1 + nvidia-* cu13) cannot be installed here ($(grep -m1 -E 'ERROR|error' "$log" || tail -n 1 "$log")); skipped"
    exit 0
  fi
  stamp "pip install of torch 2.14.1+cu130 into $venv" "$t0"
fi
echo "cuda: $("$python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)') from $venv"

# 2. The addon and the C++ tests, as the install would build them (NRNM_PYTHON
#    is how a user points the discovery at that Python).
export NRNM_PYTHON=$python
# build-<variant>: the tree `npm run prebuild` reuses for this variant (step 5).
variant=$(node -p "require('./scripts/libtorch.js').findLibTorch().variant")
build=$PWD/build-$variant
t=$(date +%s)
node scripts/build.js --out "$build" -- --CDNRNM_BUILD_TESTS=ON --CDNRNM_BUILD_BENCH=OFF > "$build.log" 2>&1 \
  || { grep -m20 -E "error|Error|nrnm:" "$build.log"; tail -20 "$build.log"; exit 1; }
grep -E "^-- nrnm" "$build.log" | sed 's/^-- /cuda: /'
stamp "build of the CUDA addon and C++ tests" "$t"

# 3. ctest (cuda_kernel_architectures checks the code of every architecture of
#    cmake/NRNMCudaArchitectures.cmake is in).
t=$(date +%s)
status=0
ctest --test-dir "$build" --output-on-failure --no-tests=error --timeout 300 -j2 > "$build-ctest.log" 2>&1 || status=$?
grep -E "tests passed|\(Skipped\)$|\*\*\*Failed|\*\*\*Exception" "$build-ctest.log" | sed 's/^/cuda: ctest: /' | head -40
echo "cuda: ctest: $(grep -cE '\(Skipped\)$' "$build-ctest.log" || true) skipped (no GPU here):"
grep -h -A1 "Skipped" "$build/Testing/Temporary/LastTest.log" 2>/dev/null | grep -oE "\] .*" | sort -u | head -10 | sed 's/^/cuda:   /' || true
stamp "ctest" "$t"
[ "$status" -eq 0 ] || exit "$status"

# 4. jest with the CUDA binary (every suite, or those that load the native layer).
t=$(date +%s)
suites=()
[ "${NRNM_CUDA_JEST:-all}" = native ] && suites=(test/native test/cli test/checkpoint.test.ts)
status=0
NRNM_NATIVE_BINARY=$build/Release/nrnm_native.node npx jest "${suites[@]}" > "$build-jest.log" 2>&1 || status=$?
grep -E "^(Tests|Test Suites):" "$build-jest.log" | sed 's/^/cuda: jest: /' || true
grep -oE "skipped: .*" "$build-jest.log" | sort -u | sed 's/^/cuda: jest: /' || true
[ "$status" -eq 0 ] || { grep -B5 -A30 "●" "$build-jest.log" | head -80; exit 1; }
stamp "jest against the CUDA build" "$t"

# 5. The CUDA prebuild, from that same build tree (scripts/prebuild.js reuses
#    build-<variant>/: nothing compiled again). scripts/ci/pack-install-test.sh,
#    after this script in .ci/run, packs it with the others and installs it
#    into a project whose NRNM_PYTHON has this torch.
t=$(date +%s)
node scripts/prebuild.js --python "$python" > "$build-prebuild.log" 2>&1 || { tail -30 "$build-prebuild.log"; exit 1; }
echo "cuda: $(grep -o 'prebuild written.*' "$build-prebuild.log")"
prebuilt=$(node -p "require('./scripts/libtorch.js').prebuildFile('.', '$variant')")
echo "cuda: kernel images in $prebuilt: $(python3 scripts/ci/cuda_archs.py "$prebuilt" | tr '\n' ' ')"
stamp "the $variant prebuild" "$t"
stamp "total" "$t0"
