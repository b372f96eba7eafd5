/**
 * `nrnm-native stream`: streaming inference from the command line. Frames
 * come from stdin as JSON lines (one frame [F], or [B, F] for B sequences
 * side by side, per line) or from a .npy played at --rate frames per second;
 * after every frame it prints the predicted label of each sequence (the
 * class a sequence ending at that frame gets; the values for regress-steps),
 * and with --json one JSON object per frame with the probabilities too.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Command } from 'commander';

import { NpyFile } from '../../data';
import { NRNMError } from '../../errors';
import type { NRNMClassifier } from '../../model';
import { CliExit, deviceFlag, positiveNumber, usageError } from '../flags';
import { onInterrupt } from '../interrupt';
import { addLoadModelFlags, loadModel } from '../load-model';
import { type ModelFlagValues } from '../model-flags';
import { Output } from '../output';
import { softmaxRows } from '../prediction';

interface StreamFlags extends ModelFlagValues {
  checkpoint: string;
  npy?: string;
  rate?: number;
  device: string;
  inputSize?: number;
  classes?: number;
  json?: boolean;
  quiet?: boolean;
}

/** One frame of B sequences: B * F values. */
interface Frame {
  data: Float32Array;
  batch: number;
}

export function registerStream(program: Command): void {
  const cmd = program
    .command('stream')
    .description('streaming inference: read frames (stdin JSON lines or a .npy) and print a label per frame')
    .requiredOption('--checkpoint <file>', 'an .nrnm checkpoint, or a state_dict .pt of the official model')
    .option('--npy <x.npy>', 'play this .npy instead of reading stdin: (T, F) one sequence, or (N, T, F) N sequences side by side')
    .option('--rate <fps>', 'with --npy: frames per second (default: as fast as the model runs)', positiveNumber)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N', deviceFlag, 'auto')
    .option('--json', 'one JSON object per frame: step, labels, probabilities (values for regress-steps), latency')
    .option('--quiet', 'print nothing but the per-frame lines and errors');
  addLoadModelFlags(cmd);
  cmd.addHelpText(
    'after',
    [
      '',
      'Each stdin line is one frame: [F] numbers for one sequence, or [[F], [F], ...] for B sequences (B fixed by',
      'the first line); empty lines are skipped. The state of every layer (and its memory) is kept from frame to',
      'frame, so the label at frame t is what predict gives the sequence of frames 0..t. e.g.',
      '  my-pose-source | nrnm-native stream --checkpoint runs/x/best.nrnm --json',
      '  nrnm-native stream --checkpoint runs/x/best.nrnm --npy clip.npy --rate 30',
    ].join('\n'),
  );
  cmd.action((flags: StreamFlags) => stream(flags));
}

/** A stdin line as a frame of F values per sequence (line numbers from 1). */
export function parseFrameLine(line: string, lineNumber: number, features: number): Frame {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new NRNMError(`stdin line ${lineNumber}: not JSON (${(err as Error).message})`, 'ERR_FORMAT');
  }
  const rows: unknown[] = Array.isArray(value) && value.length > 0 && Array.isArray(value[0]) ? value : [value];
  const data = new Float32Array(rows.length * features);
  rows.forEach((row, b) => {
    if (!Array.isArray(row) || row.length !== features || !row.every((v) => typeof v === 'number')) {
      throw new NRNMError(
        `stdin line ${lineNumber}: expected a frame of ${features} numbers (the model's input size) or an array of such frames`,
        'ERR_FORMAT',
      );
    }
    data.set(row as number[], b * features);
  });
  return { data, batch: rows.length };
}

/** The frames of stdin, one per non-empty line. */
async function* stdinFrames(features: number, signal: AbortSignal): AsyncGenerator<Frame> {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  signal.addEventListener('abort', () => lines.close(), { once: true });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    yield parseFrameLine(line, lineNumber, features);
  }
}

/** The frames of a .npy, (T, F) or (N, T, F), at `rate` frames per second (unpaced without). */
async function* npyFrames(file: string, features: number, rate: number | undefined, signal: AbortSignal): AsyncGenerator<Frame> {
  if (!fs.existsSync(file)) throw new NRNMError(`--npy ${file}: no such file`, 'ERR_NOT_FOUND');
  const x = NpyFile.open(file);
  let values: Float32Array;
  let batch: number;
  let steps: number;
  try {
    if (x.shape.length !== 2 && x.shape.length !== 3) throw usageError(`--npy ${file} has shape (${x.shape.join(', ')}); expected (T, F) or (N, T, F)`);
    [batch, steps] = x.shape.length === 2 ? [1, x.shape[0]!] : [x.shape[0]!, x.shape[1]!];
    const width = x.shape[x.shape.length - 1]!;
    if (width !== features) throw usageError(`--npy ${file} has ${width} features per step but the model's input size is ${features}`);
    values = new Float32Array(batch * steps * features);
    x.readFloat32Sync(0, x.rows, values);
  } finally {
    x.close();
  }
  const start = performance.now();
  for (let t = 0; t < steps && !signal.aborted; t++) {
    if (rate !== undefined) {
      const wait = start + (t * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
    }
    const data = new Float32Array(batch * features);
    for (let b = 0; b < batch; b++) data.set(values.subarray((b * steps + t) * features, (b * steps + t + 1) * features), b * features);
    yield { data, batch };
  }
}

async function stream(flags: StreamFlags): Promise<void> {
  if (flags.rate !== undefined && flags.npy === undefined) throw usageError('--rate applies to --npy (stdin frames are read as they come)');
  const out = new Output(flags);
  const interrupt = onInterrupt(out, 'stopping');
  let model: NRNMClassifier | undefined;
  try {
    const loaded = await loadModel(flags.checkpoint, flags.device, flags);
    model = loaded.model;
    model.eval();
    const { inputSize, classes, task } = model.options;
    out.info(`${model.toString()} on ${model.device}: ${task}, reading frames of ${inputSize} values from ${flags.npy ?? 'stdin (JSON lines)'}`);
    const frames = flags.npy === undefined ? stdinFrames(inputSize, interrupt.signal) : npyFrames(flags.npy, inputSize, flags.rate, interrupt.signal);
    using s = model.stream();
    let step = 0;
    for await (const frame of frames) {
      if (interrupt.signal.aborted) break;
      if (s.batch !== undefined && frame.batch !== s.batch) {
        throw new NRNMError(`frame ${step}: ${frame.batch} sequences but the stream started with ${s.batch}`, 'ERR_FORMAT');
      }
      const began = performance.now();
      const result = await s.push({ data: frame.data, shape: [frame.batch, 1, inputSize] });
      const ms = performance.now() - began;
      const values = result.toArray() as Float32Array; // [B, 1, C]
      result.dispose();
      printFrame(flags.json === true, step, values, frame.batch, classes, task === 'regress-steps', ms);
      step += 1;
    }
    if (interrupt.signal.aborted) throw new CliExit(interrupt.exitCode, `interrupted after ${step} frames`);
  } finally {
    model?.dispose();
    interrupt.dispose();
  }
}

function argmax(values: Float32Array, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (values[offset + j]! > values[offset + best]!) best = j;
  return best;
}

function printFrame(json: boolean, step: number, values: Float32Array, batch: number, classes: number, regression: boolean, ms: number): void {
  const rows = Array.from({ length: batch }, (_, b) => Array.from(values.subarray(b * classes, (b + 1) * classes)));
  if (regression) {
    if (json) process.stdout.write(`${JSON.stringify({ step, values: rows, latencyMs: round(ms) })}\n`);
    else process.stdout.write(`${step} ${rows.map((r) => r.map((v) => v.toPrecision(5)).join(',')).join(' ')}\n`);
    return;
  }
  const labels = rows.map((_, b) => argmax(values, b * classes, classes));
  if (!json) {
    process.stdout.write(`${step} ${labels.join(' ')}\n`);
    return;
  }
  const probabilities = Float32Array.from(values);
  softmaxRows(probabilities, classes);
  const p = Array.from({ length: batch }, (_, b) => Array.from(probabilities.subarray(b * classes, (b + 1) * classes), round));
  process.stdout.write(`${JSON.stringify({ step, labels, probabilities: p, latencyMs: round(ms) })}\n`);
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
