#!/usr/bin/env bash
# The Python clients the tests read this package's files with, in a venv at
# .venv-clients (gitignored): TensorBoard's own reader (EventAccumulator) for
# the event files `train` writes (test/tensorboard.test.ts). Where pip cannot
# get them, one line says why and the tests that need them skip saying so.
#   bash scripts/ci/python-clients.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-clients
t0=$(date +%s)
if "$venv/bin/python" -c 'import tensorboard' >/dev/null 2>&1; then
  echo "python-clients: $venv has tensorboard $("$venv/bin/python" -c 'import tensorboard; print(tensorboard.__version__)')"; exit 0
fi
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
  echo "python-clients: no python3 with venv here; the TensorBoard reader tests skip"; exit 0
fi
log=$(mktemp /tmp/nrnm-python-clients-XXXXXX.log)
if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --retries 0 tensorboard; } > "$log" 2>&1; then
  echo "python-clients: pip cannot install tensorboard here ($(grep -m1 -E 'ERROR|error' "$log" || tail -n 1 "$log")); the TensorBoard reader tests skip"
  rm -rf "$venv"; exit 0
fi
echo "python-clients: tensorboard $("$venv/bin/python" -c 'import tensorboard; print(tensorboard.__version__)') in $venv in $(( $(date +%s) - t0 )) s"
