#!/usr/bin/env bash
# Data-parallel against one process on the default dataset (sequential
# Fashion-MNIST), at the same total threads: one process with the machine's
# cores as OpenBLAS threads, and `--nproc N` whose ranks share the cores
# (cores / N each, the package's default). Rounds interleave the two so that
# load from other processes spreads over both; the summary gives the median
# over rounds of the wall time, the training rate, the final test accuracy and
# the median allreduce time per step (from metrics.jsonl).
#
#   bench/data-parallel.sh [ROUNDS] [NPROC] [train flags...]
#   bench/data-parallel.sh 2 2 --epochs 6
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2} nproc=${2:-2}
shift $(( $# >= 2 ? 2 : $# ))
out=$(mktemp -d /tmp/nrnm-data-parallel-XXXXXX)
for round in $(seq 1 "$rounds"); do
  for procs in 1 "$nproc"; do
    dir="$out/r$round-p$procs"
    echo "round $round, $procs process(es) (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    flags=(--out "$dir" --quiet)
    [ "$procs" -gt 1 ] && flags+=(--nproc "$procs")
    start=$(date +%s.%N)
    node bin/nrnm-native train "${flags[@]}" "$@" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
    echo "$(date +%s.%N) - $start" | bc > "$dir.seconds"
  done
done
node - "$out" "$rounds" "$nproc" <<'EOF'
const fs = require('fs');
const path = require('path');
const [dir, rounds, nproc] = process.argv.slice(2);
const median = (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const summary = (procs) => {
  const runs = [];
  for (let r = 1; r <= Number(rounds); r++) {
    const run = path.join(dir, `r${r}-p${procs}`);
    const metrics = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = metrics.filter((m) => m.type === 'step');
    const epochs = metrics.filter((m) => m.type === 'epoch');
    const evaluation = JSON.parse(fs.readFileSync(path.join(run, 'eval.json'), 'utf8'));
    runs.push({
      wall: Number(fs.readFileSync(`${run}.seconds`, 'utf8')),
      seqPerS: median(epochs.map((e) => e.train.sequences / e.train.seconds)),
      accuracy: evaluation.accuracy,
      allreduceMs: steps[0].allreduceMs === undefined ? 0 : median(steps.map((s) => s.allreduceMs)),
      stepMs: median(steps.slice(1).map((s, i) => 1000 * (s.time - steps[i].time))),
    });
  }
  const m = (k) => median(runs.map((r) => r[k]));
  return { procs, wall: m('wall'), seqPerS: m('seqPerS'), stepMs: m('stepMs'), allreduceMs: m('allreduceMs'), accuracies: runs.map((r) => r.accuracy) };
};
const one = summary(1);
const many = summary(nproc);
console.log(`median of ${rounds} interleaved rounds (runs in ${dir})`);
console.log('procs |  wall s | train seq/s | step ms | allreduce ms/step | test accuracy per round');
for (const s of [one, many]) {
  console.log(`${String(s.procs).padStart(5)} | ${s.wall.toFixed(1).padStart(7)} | ${s.seqPerS.toFixed(0).padStart(11)} | ${s.stepMs.toFixed(1).padStart(7)} | ${s.allreduceMs.toFixed(2).padStart(17)} | ${s.accuracies.map((a) => (100 * a).toFixed(2) + '%').join(' ')}`);
}
console.log(`ratio ${nproc}/1: wall ${(many.wall / one.wall).toFixed(2)}, seq/s ${(many.seqPerS / one.seqPerS).toFixed(2)}`);
EOF
