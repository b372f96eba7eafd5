#!/usr/bin/env bash
# Thread sweep: ATen intra-op threads x OpenBLAS threads, NRNM and LSTM, with
# the standalone nrnm_bench (build it with `node scripts/test-native.js` or a
# CMake build of native/nrnm). Rounds interleave the settings so that load
# from other processes spreads over all of them; the summary takes the median
# of the per-round medians.
#
#   bench/thread-sweep.sh BENCH_EXE CONFIG ROUNDS "INTRA..." "BLAS..." [nrnm_bench flags...]
#   bench/thread-sweep.sh build/nrnm_bench small 3 "1 2" "1 2" --steps 10 --warmup 2
set -euo pipefail
exe=$1 config=$2 rounds=$3 intra_list=$4 blas_list=$5
shift 5
out=$(mktemp -d)
for round in $(seq 1 "$rounds"); do
  for intra in $intra_list; do
    for blas in $blas_list; do
      echo "round $round intra $intra blas $blas (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      # OPENBLAS_NUM_THREADS before the library loads, like a user would.
      OPENBLAS_NUM_THREADS=$blas "$exe" --config "$config" --threads "$intra" --infer-steps -1 --json "$@" \
        > "$out/$round-$intra-$blas.json"
    done
  done
done
node - "$out" "$config" "$intra_list" "$blas_list" <<'EOF'
const fs = require('fs');
const [dir, config, intraList, blasList] = process.argv.slice(2);
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const files = fs.readdirSync(dir);
console.log(`config ${config}: median over rounds of the median step time (ms), wall / process CPU; [best round's wall]`);
console.log('intra blas |  nrnm wall      cpu      best |  lstm wall      cpu      best | ratio');
for (const intra of intraList.split(' ')) for (const blas of blasList.split(' ')) {
  const runs = files.filter((f) => f.endsWith(`-${intra}-${blas}.json`)).map((f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8')));
  const pick = (model, key) => median(runs.map((r) => r.results[0].models.find((m) => m.model === model)[key].medianMs));
  const best = (model) => Math.min(...runs.map((r) => r.results[0].models.find((m) => m.model === model).train.medianMs));
  const nw = pick('nrnm', 'train'), nc = pick('nrnm', 'trainCpu'), lw = pick('lstm', 'train'), lc = pick('lstm', 'trainCpu');
  const f = (v) => v.toFixed(1).padStart(9);
  console.log(`${intra.padStart(5)} ${blas.padStart(4)} | ${f(nw)} ${f(nc)} ${f(best('nrnm'))} | ${f(lw)} ${f(lc)} ${f(best('lstm'))} | ${(nw / lw).toFixed(2)}`);
}
EOF
echo "raw results: $out" >&2
