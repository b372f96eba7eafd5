/**
 * NTU RGB+D `.skeleton` text files, parsed incrementally (push chunks, no
 * per-joint objects) into one float64 array of x, y, z.
 *
 * Format, one item per line:
 *   frame count
 *   per frame: body count
 *     per body: 10 body values (bodyID, clippedEdges, hand states, lean, trackingState)
 *               joint count (25)
 *               per joint: 12 values (x y z depthX depthY colorX colorY
 *                          orientationW X Y Z trackingState)
 * Bodies are numbered by their position in each frame, as the official code
 * does; the first 4 bodies and 25 joints are kept.
 *
 * Only frames that list a joint of those bodies take room (2400 bytes
 * each, for at least one ~24-byte joint line of the file): a file of many
 * empty frames costs 4 bytes a frame, whatever its first line announces.
 */
import { NRNMError } from '../../errors';
import { quoted } from '../../file-errors';
import { MAX_SKELETON_LINE } from '../../limits';
import { readFileOrThrow } from '../files';

export const NTU_JOINTS = 25;
/** Bodies the Kinect reports at most, and the official reader keeps. */
export const KINECT_BODIES = 4;
const FRAME_VALUES = KINECT_BODIES * NTU_JOINTS * 3;

export interface SkeletonSequence {
  file: string;
  /** Frames announced on the first line (and present). */
  frames: number;
  /** Bodies listed in each frame, including any past the 4th. */
  bodyCounts: Int32Array;
  /** The frames (0-based, ascending) that list a joint of the first 4 bodies: row r of `xyz` is frame dataFrames[r]. */
  dataFrames: Int32Array;
  /**
   * x, y, z as [dataFrames.length, 4 bodies, 25 joints, 3] float64; 0 where a
   * body or joint is absent. Frames not in `dataFrames` are all 0.
   */
  xyz: Float64Array;
}

/** The row of `xyz` holding frame `t`, or -1 when the frame holds no joints (all 0). */
export function frameRow(seq: SkeletonSequence, t: number): number {
  const rows = seq.dataFrames;
  let lo = 0;
  let hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]! === t) return mid;
    if (rows[mid]! < t) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

enum State {
  FrameCount,
  BodyCount,
  BodyInfo,
  JointCount,
  Joint,
  Done,
}

const BODY_VALUES = 10;
const JOINT_VALUES = 12;
const MAX_TOKENS = 16;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Push parser: `push()` chunks of the file in order, then `end()`. */
export class SkeletonParser {
  private readonly file: string;
  private state = State.FrameCount;
  private line = 0;
  private rest: Uint8Array | null = null;
  private frames = 0;
  private frame = 0;
  private bodies = 0;
  private body = 0;
  private joints = 0;
  private joint = 0;
  private xyz = new Float64Array(0);
  private dataFrames = new Int32Array(0);
  /** Rows of xyz in use; the last is frame dataFrames[rows - 1]. */
  private rows = 0;
  private bodyCounts = new Int32Array(0);
  private readonly starts = new Int32Array(MAX_TOKENS);
  private readonly ends = new Int32Array(MAX_TOKENS);

  constructor(file = '<input>') {
    this.file = file;
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.rest !== null) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      this.onLine(buf, start, nl);
      start = nl + 1;
    }
    if (start < buf.length) {
      if (buf.length - start > MAX_SKELETON_LINE) this.longLine(this.line + 1);
      this.rest = buf.slice(start);
    }
  }

  private longLine(line: number): never {
    return this.fail(`a line longer than ${MAX_SKELETON_LINE} bytes; this is not a .skeleton file`, line);
  }

  end(): SkeletonSequence {
    if (this.rest !== null) {
      const last = this.rest;
      this.rest = null;
      this.onLine(last, 0, last.length);
    }
    if (this.state !== State.Done) this.fail(`truncated: the file ends where ${this.expected()} should be`, this.line + 1);
    const n = this.frames;
    const rows = this.rows;
    return {
      file: this.file,
      frames: n,
      bodyCounts: this.bodyCounts.length === n ? this.bodyCounts : this.bodyCounts.slice(0, n),
      dataFrames: this.dataFrames.length === rows ? this.dataFrames : this.dataFrames.slice(0, rows),
      xyz: this.xyz.length === rows * FRAME_VALUES ? this.xyz : this.xyz.slice(0, rows * FRAME_VALUES),
    };
  }

  private fail(what: string, line = this.line, column?: number): never {
    const at = column === undefined ? `line ${line}` : `line ${line}, column ${column}`;
    throw new NRNMError(`${this.file}: ${what} at ${at}.`, 'ERR_FORMAT');
  }

  private expected(): string {
    const f = `frame ${this.frame + 1} of ${this.frames}`;
    switch (this.state) {
      case State.FrameCount:
        return 'the frame count';
      case State.BodyCount:
        return `the body count of ${f}`;
      case State.BodyInfo:
        return `the ${BODY_VALUES} values of body ${this.body + 1} of ${f}`;
      case State.JointCount:
        return `the joint count of body ${this.body + 1} of ${f}`;
      case State.Joint:
        return `joint ${this.joint + 1} of ${this.joints} of body ${this.body + 1} of ${f}`;
      default:
        return 'nothing';
    }
  }

  /** Splits [start, end) at spaces, tabs and CR; returns the number of tokens (capped at MAX_TOKENS + 1). */
  private tokens(buf: Uint8Array, start: number, end: number): number {
    let n = 0;
    let i = start;
    while (i < end) {
      let c = buf[i]!;
      if (c === 0x20 || c === 0x09 || c === 0x0d) {
        i++;
        continue;
      }
      if (n === MAX_TOKENS) return n + 1;
      this.starts[n] = i;
      while (i < end && (c = buf[i]!) !== 0x20 && c !== 0x09 && c !== 0x0d) i++;
      this.ends[n++] = i;
    }
    return n;
  }

  /**
   * The common case of a joint line: three plain decimals then 9 more
   * values, in one pass. Returns false for anything else (exponents, long
   * numbers, a wrong count), which the general path parses or reports.
   */
  private fastJoint(buf: Uint8Array, start: number, end: number, o: number): boolean {
    const xyz = this.xyz;
    let i = start;
    for (let k = 0; k < 3; k++) {
      let c = buf[i];
      while (c === 0x20 || c === 0x09) c = buf[++i];
      let neg = false;
      if (c === 0x2d) {
        neg = true;
        c = buf[++i];
      }
      let mant = 0;
      let digits = 0;
      let scale = -1;
      for (; i < end; c = buf[++i]) {
        const d = c! - 0x30;
        if (d >= 0 && d <= 9) {
          mant = mant * 10 + d;
          digits++;
          if (scale >= 0) scale++;
        } else if (c === 0x2e && scale < 0) scale = 0;
        else break;
      }
      if (digits === 0 || digits > 15 || (i < end && c !== 0x20 && c !== 0x09 && c !== 0x0d)) return false;
      const v = scale > 0 ? mant / POW10[scale]! : mant;
      if (o >= 0) xyz[o + k] = neg ? -v : v;
    }
    let n = 3;
    let inToken = false;
    for (; i < end; i++) {
      const c = buf[i];
      const space = c === 0x20 || c === 0x09 || c === 0x0d;
      if (!space && !inToken) n++;
      inToken = !space;
    }
    return n === JOINT_VALUES;
  }

  /** Offset in xyz of the current joint, adding a row for the current frame when it has none yet. */
  private jointOffset(): number {
    if (this.rows === 0 || this.dataFrames[this.rows - 1] !== this.frame) {
      if (this.rows === this.dataFrames.length) this.growRows(Math.max(16, 2 * this.rows));
      this.dataFrames[this.rows++] = this.frame;
    }
    return (((this.rows - 1) * KINECT_BODIES + this.body) * NTU_JOINTS + this.joint) * 3;
  }

  private onLine(buf: Uint8Array, start: number, end: number): void {
    this.line++;
    if (end - start > MAX_SKELETON_LINE) this.longLine(this.line);
    if (this.state === State.Joint) {
      const keep = this.body < KINECT_BODIES && this.joint < NTU_JOINTS;
      const o = keep ? this.jointOffset() : -1;
      if (this.fastJoint(buf, start, end, o)) {
        if (++this.joint === this.joints) this.nextBody();
        return;
      }
    }
    const n = this.tokens(buf, start, end);
    if (this.state === State.Joint) {
      if (n !== JOINT_VALUES) this.fail(`expected ${JOINT_VALUES} values for ${this.expected()} but found ${n > MAX_TOKENS ? 'more' : n}`);
      if (this.body < KINECT_BODIES && this.joint < NTU_JOINTS) {
        const o = this.jointOffset();
        for (let k = 0; k < 3; k++) this.xyz[o + k] = this.number(buf, this.starts[k]!, this.ends[k]!, start);
      }
      if (++this.joint === this.joints) this.nextBody();
      return;
    }
    switch (this.state) {
      case State.FrameCount: {
        this.frames = this.count(buf, n, start, 'the frame count');
        this.growFrames(Math.min(this.frames, 512));
        this.state = this.frames === 0 ? State.Done : State.BodyCount;
        return;
      }
      case State.BodyCount: {
        this.bodies = this.count(buf, n, start, this.expected());
        if (this.frame >= this.bodyCounts.length) this.growFrames(Math.min(this.frames, 2 * this.bodyCounts.length));
        this.bodyCounts[this.frame] = this.bodies;
        this.body = 0;
        if (this.bodies === 0) this.nextFrame();
        else this.state = State.BodyInfo;
        return;
      }
      case State.BodyInfo: {
        if (n !== BODY_VALUES) this.fail(`expected ${BODY_VALUES} values for ${this.expected()} but found ${n > MAX_TOKENS ? 'more' : n}`);
        this.state = State.JointCount;
        return;
      }
      case State.JointCount: {
        this.joints = this.count(buf, n, start, this.expected());
        this.joint = 0;
        if (this.joints === 0) this.nextBody();
        else this.state = State.Joint;
        return;
      }
      default:
        if (n !== 0) this.fail(`unexpected text after the last of the ${this.frames} frames announced on line 1`);
    }
  }

  private nextBody(): void {
    if (++this.body < this.bodies) this.state = State.BodyInfo;
    else this.nextFrame();
  }

  private nextFrame(): void {
    this.state = ++this.frame < this.frames ? State.BodyCount : State.Done;
  }

  private growFrames(frames: number): void {
    const counts = new Int32Array(frames);
    counts.set(this.bodyCounts);
    this.bodyCounts = counts;
  }

  private growRows(rows: number): void {
    const xyz = new Float64Array(rows * FRAME_VALUES);
    xyz.set(this.xyz);
    this.xyz = xyz;
    const dataFrames = new Int32Array(rows);
    dataFrames.set(this.dataFrames);
    this.dataFrames = dataFrames;
  }

  /** A line holding one non-negative integer. */
  private count(buf: Uint8Array, n: number, lineStart: number, what: string): number {
    if (n !== 1)
      this.fail(
        n === 0 ? `expected ${what} but found an empty line` : `expected ${what} (one integer) but found ${n > MAX_TOKENS ? 'more than 16' : n} values`,
      );
    let v = 0;
    let i = this.starts[0]!;
    const e = this.ends[0]!;
    if (buf[i] === 0x2b) i++; // '+'
    if (i === e) this.fail(`expected ${what} but found ${quoted(latin1(buf, this.starts[0]!, e))}`, this.line, this.starts[0]! - lineStart + 1);
    for (; i < e; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) this.fail(`expected ${what} but found ${quoted(latin1(buf, this.starts[0]!, e))}`, this.line, this.starts[0]! - lineStart + 1);
      v = v * 10 + d;
    }
    if (v > 0x7fffffff) this.fail(`${what} ${v} is not plausible`);
    return v;
  }

  /**
   * A decimal number, rounded exactly as Python's float() rounds it: up to
   * 15 significant digits and |exponent| <= 22 it is one correctly rounded
   * division or product of exact doubles; otherwise Number() parses it.
   */
  private number(buf: Uint8Array, s: number, e: number, lineStart: number): number {
    let i = s;
    let neg = false;
    if (buf[i] === 0x2d) {
      neg = true;
      i++;
    } else if (buf[i] === 0x2b) i++;
    let mant = 0;
    let digits = 0;
    let scale = 0;
    let seenDigit = false;
    for (; i < e; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) break;
      mant = mant * 10 + d;
      if (mant !== 0) digits++;
      seenDigit = true;
    }
    if (i < e && buf[i] === 0x2e) {
      for (i++; i < e; i++) {
        const d = buf[i]! - 0x30;
        if (d < 0 || d > 9) break;
        mant = mant * 10 + d;
        if (mant !== 0) digits++;
        scale++;
        seenDigit = true;
      }
    }
    if (seenDigit && i === e && digits <= 15 && scale <= 22) {
      const v = scale === 0 ? mant : mant / POW10[scale]!;
      return neg ? -v : v;
    }
    const text = latin1(buf, s, e);
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
    if (/^[+-]?(inf|infinity)$/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/i.test(text)) return NaN;
    return this.fail(`${quoted(text)} is not a number (in ${this.expected()})`, this.line, s - lineStart + 1);
  }
}

function latin1(buf: Uint8Array, s: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + s, Math.min(e - s, 40)).toString('latin1');
}

/** Parses a whole `.skeleton` file held in memory. */
export function parseSkeleton(bytes: Uint8Array, file = '<input>'): SkeletonSequence {
  const p = new SkeletonParser(file);
  p.push(bytes);
  return p.end();
}

/** Reads and parses a `.skeleton` file (a few hundred kB; read in one piece). */
export function readSkeletonFile(file: string): SkeletonSequence {
  const bytes = readFileOrThrow(file);
  return parseSkeleton(bytes, file);
}

/** Parses a `.skeleton` file from a stream of chunks (e.g. fs.createReadStream, or an unzip stream). */
export async function parseSkeletonStream(chunks: AsyncIterable<Uint8Array | string>, file = '<stream>'): Promise<SkeletonSequence> {
  const p = new SkeletonParser(file);
  for await (const chunk of chunks) p.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  return p.end();
}

/** The fields of an NTU file name such as S001C002P003R002A013.skeleton. */
export interface NtuSampleName {
  name: string;
  setup: number;
  camera: number;
  performer: number;
  replication: number;
  action: number;
}

const NAME = /S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})/;

/** Parses S/C/P/R/A from a file name (the directory part is ignored); throws ERR_FORMAT when they are missing. */
export function parseSampleName(fileName: string): NtuSampleName {
  const base = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  const m = NAME.exec(base);
  if (!m) throw new NRNMError(`${fileName}: not an NTU RGB+D sample name (expected SsssCcccPpppRrrrAaaa, e.g. S001C002P003R002A013.skeleton)`, 'ERR_FORMAT');
  return { name: base, setup: +m[1]!, camera: +m[2]!, performer: +m[3]!, replication: +m[4]!, action: +m[5]! };
}
