/**
 * `nrnm-native` command line: one file per command in ./commands.
 * Exit codes: 0 success, 1 failure (a bad file or missing data: the data-error
 * code; every ERR_FORMAT), 2 usage error (ERR_ARG: a flag), 130 interrupted (Ctrl-C).
 */
import { Command, CommanderError } from 'commander';

import { NRNMError } from '../errors';
import { registerBench } from './commands/bench';
import { registerBuild } from './commands/build';
import { registerEval } from './commands/eval';
import { registerExport } from './commands/export';
import { registerInfo } from './commands/info';
import { registerPredict } from './commands/predict';
import { registerPreprocess } from './commands/preprocess';
import { registerStream } from './commands/stream';
import { registerTrain } from './commands/train';
import { CliExit } from './flags';

export function buildProgram(): Command {
  const program = new Command('nrnm-native')
    .description('Train and run NRNM sequence models with LibTorch (CUDA or CPU)')
    .option('--verbose', 'print stack traces of errors')
    .exitOverride()
    .showHelpAfterError('(add --help for the flags and their allowed values)')
    .configureOutput({ outputError: (text, write) => write(text) });
  registerTrain(program);
  registerEval(program);
  registerPredict(program);
  registerStream(program);
  registerExport(program);
  registerPreprocess(program);
  registerInfo(program);
  registerBench(program);
  registerBuild(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof CliExit) {
      if (err.message) process.stderr.write(`nrnm-native: ${err.message}\n`);
      return err.exitCode;
    }
    const verbose = argv.includes('--verbose');
    if (err instanceof NRNMError) {
      process.stderr.write(`nrnm-native: ${err.message}\n`);
      if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
      return err.code === 'ERR_ARG' ? 2 : 1;
    }
    process.stderr.write(`nrnm-native: ${(err as Error).message ?? String(err)}\n`);
    if (verbose && (err as Error).stack) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}
