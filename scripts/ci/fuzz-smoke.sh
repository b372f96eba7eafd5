#!/usr/bin/env bash
# Issue 26, class 7: a short run of every fuzz target (3 s each; libFuzzer with
# ASan + UBSan for the C++ readers, scripts/fuzz/js-fuzzer.js for the
# TypeScript ones) from the committed corpora; any finding fails CI. The long
# runs are `npm run fuzz -- --time 600`. Needs clang-14 and libclang-rt-14-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# dist/ is built by `npm install` (prepare) and `npm test`; rebuilt here only if missing.
no_tsc=--no-tsc
[ -e dist/data/npy.js ] || no_tsc=
node scripts/fuzz/run.js --time "${FUZZ_SMOKE_SECONDS:-3}" --seed 1 $no_tsc
