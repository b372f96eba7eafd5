#!/usr/bin/env bash
# The addon and the C++ tests against a LibTorch 2.x, where the machine has a
# PyTorch CPU wheel to take one from (/opt/wheels, or NRNM_TORCH_WHEEL): the
# GPU machines and most users build against 2.x, this machine's default is
# Debian's 1.13. Only the wheel's LibTorch part is unpacked; nothing is
# installed. The build is also that torch's prebuild (prebuilds/torch2.13-cpu-cxx11),
# which pack-install-test.sh ships and loads. Skips with a line when there is no wheel.
set -euo pipefail
cd "$(dirname "$0")/../.."
wheel=${NRNM_TORCH_WHEEL:-$(ls /opt/wheels/torch-2*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
  echo "libtorch2: no PyTorch 2.x CPU wheel here; skipped"
  exit 0
fi
# The wheel's LibTorch part, unpacked once into build-libtorch2-wheel/ (kept:
# the prebuild made from it is loaded against it by pack-install-test.sh).
unpacked=$PWD/build-libtorch2-wheel/$(basename "$wheel" .whl)
if [ ! -f "$unpacked/torch/share/cmake/Torch/TorchConfig.cmake" ]; then
  echo "libtorch2: unpacking LibTorch from $(basename "$wheel")"
  rm -rf "$unpacked"
  python3 - "$wheel" "$unpacked" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith(("torch/lib/", "torch/include/", "torch/share/"))])
PY
fi
export LIBTORCH=$unpacked/torch NRNM_NO_PYTHON_TORCH=1
variant=$(node -p "require('./scripts/libtorch.js').findLibTorch().variant")
build=$PWD/build-$variant
# The addon and the C++ tests in one tree, as the install builds them: the
# same compile makes the $variant prebuild below (nothing compiled twice).
t=$(date +%s)
node scripts/build.js --out "$build" -- --CDNRNM_BUILD_TESTS=ON --CDNRNM_BUILD_BENCH=OFF --CDNRNM_CHECK_CUDA_KERNELS=OFF \
  > "$build.log" 2>&1 || { grep -m20 -A3 -E "error|Error" "$build.log"; tail -20 "$build.log"; exit 1; }
grep -m1 "Found Torch" "$build.log" || true
echo "libtorch2: build of the addon and C++ tests ($variant) in $(( $(date +%s) - t )) s"
t=$(date +%s)
status=0
ctest --test-dir "$build" --output-on-failure --no-tests=error --timeout 300 -j"$(nproc)" \
  > "$build-ctest.log" 2>&1 || status=$?
[ "$status" -eq 0 ] || { grep -B2 -A20 -E "\*\*\*Failed|FAILED" "$build-ctest.log" | head -80 || true; }
echo "libtorch2: $(grep -oE '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$build-ctest.log" || echo 'no ctest summary')"
echo "libtorch2: ctest in $(( $(date +%s) - t )) s, $(grep -c '(Skipped)' "$build-ctest.log" || true) skipped (they need a GPU)"
[ "$status" -eq 0 ] || exit "$status"
# The prebuild from that tree (scripts/prebuild.js reuses build-<variant>/).
t=$(date +%s)
node scripts/prebuild.js --libtorch "$LIBTORCH" > "$build-prebuild.log" 2>&1 || { tail -20 "$build-prebuild.log"; exit 1; }
echo "libtorch2: $(grep -o 'prebuild written.*' "$build-prebuild.log") in $(( $(date +%s) - t )) s"
