/**
 * `nrnm-native bench` (and `npm run bench`): training throughput and batch-1
 * inference latency of NRNM against LibTorch's own LSTM of the same size, in
 * this process, on random data. Prints a table, or one JSON object (--json).
 */
import type { Command } from 'commander';

import { CHOICES, type Choice } from '../../index';
import { BENCH_CONFIGS, type BenchConfigName, type BenchModelResult, formatBench, runBench } from '../../bench';
import { choice, deviceFlag, nonNegativeInt, positiveInt } from '../flags';

interface BenchFlags {
  config: BenchConfigName | 'all';
  steps?: number;
  warmup?: number;
  inferSteps?: number;
  device: string;
  threads?: number;
  blasThreads?: number;
  precision: Choice<'precision'>;
  model: 'both' | 'nrnm' | 'lstm';
  seed: number;
  json?: boolean;
}

function progressLine(r: BenchModelResult): string {
  return (
    `${r.config} ${r.model}: ${r.train.medianMs.toFixed(1)} ms/step (${r.trainSequencesPerS.toFixed(1)} seq/s)` +
    (r.infer.count ? `, batch-1 inference ${r.infer.medianMs.toFixed(2)} ms` : '')
  );
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description("training throughput and inference latency of NRNM against LibTorch's own LSTM of the same size")
    .addOption(
      choice(
        '--config <name>',
        'small (B64 T100 F150 1x128), official (B256 T100 F150 2x512), long (B32 T1000 F28 1x128, strided) or all',
        [...BENCH_CONFIGS, 'all'],
        'small',
      ),
    )
    .option('--steps <n>', "timed training steps per model (default: the config's: small 20, official 5, long 5)", positiveInt)
    .option('--warmup <n>', "untimed training steps first (default: the config's)", nonNegativeInt)
    .option('--infer-steps <n>', "timed batch-1 forward calls; 0 skips inference (default: the config's)", nonNegativeInt)
    .option('--device <device>', 'cpu, cuda, cuda:N or auto', deviceFlag, 'cpu')
    .option('--threads <n>', 'ATen intra-op threads (default 1, see README "Performance")', positiveInt)
    .option('--blas-threads <n>', "OpenBLAS threads (default: one per core, OpenBLAS's own)", positiveInt)
    .addOption(choice('--precision <p>', 'fp32; tf32 or bf16 on CUDA', CHOICES.precision, 'fp32'))
    .addOption(choice('--model <m>', 'both (gives the ratio), nrnm or lstm', ['both', 'nrnm', 'lstm'], 'both'))
    .option('--seed <n>', 'seed of the models and the random batch', nonNegativeInt, 0)
    .option('--json', 'print one JSON object (progress goes to stderr)')
    .action(async (flags: BenchFlags) => {
      const report = await runBench({
        config: flags.config,
        steps: flags.steps,
        warmup: flags.warmup,
        inferSteps: flags.inferSteps,
        device: flags.device,
        threads: flags.threads,
        blasThreads: flags.blasThreads,
        precision: flags.precision,
        models: flags.model === 'both' ? ['nrnm', 'lstm'] : [flags.model],
        seed: flags.seed,
        onResult: (r) => process.stderr.write(`${progressLine(r)}\n`),
      });
      process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${formatBench(report)}\n`);
    });
}
