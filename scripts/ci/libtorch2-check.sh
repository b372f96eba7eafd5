#!/usr/bin/env bash
# The C++ core and its tests against a LibTorch 2.x, where the machine has a
# PyTorch CPU wheel to take one from (/opt/wheels, or NRNM_TORCH_WHEEL): the
# GPU machines and most users build against 2.x, this machine's default is
# Debian's 1.13. Only the wheel's LibTorch part is unpacked; nothing is
# installed. Skips with a line when there is no wheel.
set -euo pipefail
cd "$(dirname "$0")/../.."
wheel=${NRNM_TORCH_WHEEL:-$(ls /opt/wheels/torch-2*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)}
if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
  echo "libtorch2: no PyTorch 2.x CPU wheel here; skipped"
  exit 0
fi
work=$(mktemp -d /tmp/nrnm-libtorch2-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "libtorch2: unpacking LibTorch from $(basename "$wheel")"
python3 - "$wheel" "$work" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith(("torch/lib/", "torch/include/", "torch/share/"))])
PY
t=$(date +%s)
cmake -S native/nrnm -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DNRNM_BUILD_BENCH=OFF \
  -DNRNM_CHECK_CUDA_KERNELS=OFF -DCMAKE_PREFIX_PATH="$work/torch/share/cmake" > "$work/configure.log" 2>&1 \
  || { tail -30 "$work/configure.log"; exit 1; }
grep -m1 "Found Torch" "$work/configure.log"
cmake --build "$work/build" -j"$(nproc)" > "$work/build.log" 2>&1 || { grep -m20 -A3 "error" "$work/build.log"; exit 1; }
echo "libtorch2: build of the core and C++ tests in $(( $(date +%s) - t )) s"
t=$(date +%s)
status=0
ctest --test-dir "$work/build" --output-on-failure --no-tests=error --timeout 300 -j"$(nproc)" \
  > "$work/ctest.log" 2>&1 || status=$?
[ "$status" -eq 0 ] || { grep -B2 -A20 -E "\*\*\*Failed|FAILED" "$work/ctest.log" | head -80 || true; }
echo "libtorch2: $(grep -oE '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$work/ctest.log" || echo 'no ctest summary')"
echo "libtorch2: ctest in $(( $(date +%s) - t )) s, $(grep -c '(Skipped)' "$work/ctest.log" || true) skipped (they need a GPU)"
exit "$status"
