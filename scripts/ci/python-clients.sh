#!/usr/bin/env bash
# The Python clients the tests read this package's files with, in a venv at
# .venv-clients (gitignored): TensorBoard's own reader (EventAccumulator) for
# the event files `train` writes (test/tensorboard.test.ts), and onnx
# (onnx.checker) with onnxruntime and numpy for the exported ONNX files
# (test/onnx/export.test.ts). Each is installed on its own; where pip cannot
# get one, one line says why and the tests that need it skip saying so.
#   bash scripts/ci/python-clients.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-clients
t0=$(date +%s)
# package name for pip, then the module the tests import
clients=("tensorboard tensorboard" "numpy numpy" "onnx onnx" "onnxruntime onnxruntime")
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
  echo "python-clients: no python3 with venv here; the TensorBoard reader and Python ONNX checks skip"; exit 0
fi
if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv" >/dev/null 2>&1; then
  echo "python-clients: python3 -m venv $venv failed; the TensorBoard reader and Python ONNX checks skip"; rm -rf "$venv"; exit 0
fi
log=$(mktemp /tmp/nrnm-python-clients-XXXXXX.log)
for client in "${clients[@]}"; do
  read -r package module <<< "$client"
  if "$venv/bin/python" -c "import $module" >/dev/null 2>&1; then
    echo "python-clients: $venv has $package $("$venv/bin/python" -c "import $module; print($module.__version__)")"; continue
  fi
  if ! "$venv/bin/pip" install --retries 0 "$package" > "$log" 2>&1; then
    echo "python-clients: pip cannot install $package here ($(grep -m1 -E 'ERROR|error' "$log" || tail -n 1 "$log")); the tests that need it skip"
    continue
  fi
  echo "python-clients: $package $("$venv/bin/python" -c "import $module; print($module.__version__)") in $venv"
done
rm -f "$log"
echo "python-clients: done in $(( $(date +%s) - t0 )) s"
