import type { Command } from 'commander';

import { runtimeReport, type RuntimeReport } from '../../runtime';

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function cudaLine(r: RuntimeReport): string {
  if (!r.cuda.builtWithCuda) return 'not in this build (CPU only)';
  const gpus = r.cuda.available ? `${r.gpus.length} GPU${r.gpus.length === 1 ? '' : 's'} visible` : 'no GPU visible';
  return (
    `built with CUDA ${r.cuda.builtWith ?? '?'}, ${gpus} (runtime ${r.cuda.runtimeVersion ?? '?'}, ` +
    `driver ${r.cuda.driverVersion ?? 'none'}, cuDNN ${r.cuda.cudnnVersion ?? 'not loaded'})`
  );
}

export function formatInfo(r: RuntimeReport): string {
  const lines = [
    `nrnm-native ${r.packageVersion} on Node ${r.node} (N-API ${r.napiVersion}, ${r.platform}${r.glibc ? `, glibc ${r.glibc}` : ''})`,
    `binary:    ${r.binary.path} (${r.binary.reason})`,
    `LibTorch:  ${r.libtorch.version} from ${r.libtorch.path ?? 'unknown'} (built for ${r.libtorch.variant})`,
    `CUDA:      ${cudaLine(r)}`,
    ...(r.cuda.libraries.length > 0 ? [`CUDA libs: ${r.cuda.libraries.map((l) => `${l.name} ${l.path}`).join('\n           ')}`] : []),
    `GPUs:      ${r.gpus.length === 0 ? 'none visible' : ''}`,
    ...r.gpus.map((g) => `  cuda:${g.index}  ${g.name}, ${gib(g.totalMemoryBytes)}, compute capability ${g.computeCapability}, ${g.multiprocessors} SMs`),
    `threads:   ${r.threads.intraOp} intra-op, ${r.threads.interOp} inter-op (${r.threads.parallelBackend})`,
  ];
  return lines.join('\n');
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the LibTorch, CUDA and GPUs nrnm-native uses, and which binary is loaded')
    .option('--json', 'print one JSON object')
    .action((options: { json?: boolean }) => {
      const report = runtimeReport();
      process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatInfo(report)}\n`);
    });
}
