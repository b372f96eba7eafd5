/**
 * `nrnm-native preprocess --dataset ntu`: raw NTU RGB+D .skeleton files ->
 * the official preprocessed folders (xsub/, xview/ or xset/ with
 * {train,val}_data_joint.npy and {train,val}_label.pkl), with progress.
 */
import * as fs from 'node:fs';

import type { Command } from 'commander';

import { NRNMError } from '../../errors';
import { datasets } from '../../index';
import { NTU_DEFAULT_DIR, NTU_DOWNLOAD, preprocessRaw } from '../data';
import { CliExit, choice, nonNegativeInt } from '../flags';
import { onInterrupt } from '../interrupt';
import { Output } from '../output';

interface PreprocessFlags {
  dataset: 'ntu';
  raw: string;
  out: string;
  ignored?: string;
  workers?: number;
  benchmarks?: string;
  classes?: '60' | '120';
  json?: boolean;
  quiet?: boolean;
}

const BENCHMARKS = ['xsub', 'xview', 'xset'] as const;

export function registerPreprocess(program: Command): void {
  program
    .command('preprocess')
    .description('preprocess raw NTU RGB+D skeletons into the official .npy/.pkl folders')
    .addOption(choice('--dataset <name>', 'only ntu', ['ntu'], 'ntu'))
    .requiredOption('--raw <dir>', 'folder of raw .skeleton files (nturgb+d_skeletons)')
    .option('--out <dir>', 'output folder', NTU_DEFAULT_DIR)
    .option('--ignored <file>', "list of samples to skip (one name a line); 'missing': the dataset authors' samples with missing skeletons (datasets/ntu/)")
    .option('--workers <n>', 'worker threads (default: the cores, at most 8; 0 = this thread)', nonNegativeInt)
    .option('--benchmarks <list>', 'comma-separated from xsub, xview, xset (default: xsub,xview for NTU-60, xsub,xset for NTU-120)')
    .addOption(choice('--classes <n>', 'NTU-60 or NTU-120 (default: from the file names)', ['60', '120']))
    .option('--json', 'one JSON object per line (progress and result)')
    .option('--quiet', 'print nothing but errors')
    .addHelpText('after', `\nThe raw skeletons (nturgbd_skeletons_s001_to_s017.zip) are at ${NTU_DOWNLOAD} (free registration).`)
    .action((flags: PreprocessFlags) => run(flags));
}

async function run(flags: PreprocessFlags): Promise<void> {
  const out = new Output(flags);
  let benchmarks: Array<(typeof BENCHMARKS)[number]> | undefined;
  if (flags.benchmarks !== undefined) {
    const list = flags.benchmarks.split(',').map((b) => b.trim());
    const bad = list.find((b) => !(BENCHMARKS as readonly string[]).includes(b));
    if (bad !== undefined || list.length === 0) {
      throw new NRNMError(`Expected --benchmarks to be a comma-separated list of ${BENCHMARKS.join(', ')} but received '${flags.benchmarks}'`, 'ERR_ARG');
    }
    benchmarks = list as Array<(typeof BENCHMARKS)[number]>;
  }
  if (!fs.existsSync(flags.raw)) {
    throw new NRNMError(`--raw ${flags.raw}: no such folder. Download the NTU RGB+D skeletons from ${NTU_DOWNLOAD} and unzip them.`, 'ERR_NOT_FOUND');
  }
  const interrupt = onInterrupt(out, 'stopping; the partial output is removed');
  try {
    await preprocessRaw(flags.raw, flags.out, out, interrupt.signal, {
      ...(flags.workers === undefined ? {} : { workers: flags.workers }),
      ...(flags.ignored === undefined
        ? {}
        : {
            ignored: flags.ignored === 'missing' ? [...new Set([...datasets.ntu.missingSkeletons(60), ...datasets.ntu.missingSkeletons(120)])] : flags.ignored,
          }),
      ...(benchmarks ? { benchmarks } : {}),
      ...(flags.classes ? { variant: Number(flags.classes) as 60 | 120 } : {}),
    });
  } catch (err) {
    if (interrupt.signal.aborted) throw new CliExit(interrupt.exitCode);
    throw err;
  } finally {
    interrupt.dispose();
  }
}
