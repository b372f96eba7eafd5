import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  NTU_FEATURES,
  NTU_FRAMES,
  SkeletonParser,
  type SkeletonSequence,
  alignBone,
  bodyEnergy,
  centerOnSpine,
  datasets,
  frameRow,
  isTraining,
  keptFrames,
  padNullFrames,
  parseNpy,
  parseSampleName,
  parseSkeleton,
  preprocessSkeleton,
  readNpy,
  readSkeletonFile,
  selectBodies,
  toOfficialLayout,
} from '../../src/data';
import { isTuple, unpickle } from '../../src/serialization/pickle';
import { generate, skeletonText } from '../../scripts/fixtures/gen-ntu-skeletons';

const NTU = path.join(__dirname, '..', '..', 'datasets', 'ntu', 'sample');
const DATA = path.join(__dirname, '..', 'fixtures', 'data');
const ROW = NTU_FRAMES * NTU_FEATURES;
const NAMES = fs
  .readdirSync(NTU)
  .filter((n) => n.endsWith('.skeleton'))
  .sort();
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-ntu-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const text = (spec: Parameters<typeof skeletonText>[0]): Buffer => Buffer.from(skeletonText(spec));
/** Value of (frame, body, joint, coordinate) in the parsed array; 0 for a frame without joints. */
const at = (s: SkeletonSequence, t: number, m: number, v: number, c: number): number => {
  const r = frameRow(s, t);
  return r < 0 ? 0 : s.xyz[((r * 4 + m) * 25 + v) * 3 + c]!;
};

describe('.skeleton parser', () => {
  test('reads frames, bodies and x, y, z as written', () => {
    const file = path.join(NTU, 'S001C001P001R001A001.skeleton');
    const s = readSkeletonFile(file);
    const lines = fs.readFileSync(file, 'latin1').split('\n');
    expect(s.frames).toBe(16);
    expect(Array.from(s.bodyCounts)).toEqual(new Array(16).fill(1));
    expect(s.xyz.length).toBe(16 * 4 * 25 * 3);
    // line 5 is joint 1 of frame 1; frame 2's body count is line 30, its joints lines 33-57
    expect(lines[4]!.split(' ').slice(0, 3).map(Number)).toEqual([at(s, 0, 0, 0, 0), at(s, 0, 0, 0, 1), at(s, 0, 0, 0, 2)]);
    expect(Number(lines[56]!.split(' ')[2])).toBe(at(s, 1, 0, 24, 2));
    expect(at(s, 0, 1, 0, 0)).toBe(0);
  });

  test('CRLF, bodies past the 4th, empty frames, a file with no skeleton', () => {
    const crlf = readSkeletonFile(path.join(NTU, 'S001C002P003R002A013.skeleton'));
    expect(Array.from(crlf.bodyCounts)).toEqual(new Array(12).fill(2));
    const five = readSkeletonFile(path.join(NTU, 'S017C002P040R001A031.skeleton'));
    expect(Array.from(five.bodyCounts)).toEqual(new Array(6).fill(5));
    expect(five.xyz.length).toBe(6 * 4 * 75);
    const gaps = readSkeletonFile(path.join(NTU, 'S002C003P008R001A050.skeleton'));
    expect(Array.from(gaps.bodyCounts)).toEqual([0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
    // only the frames with joints take room
    expect(Array.from(gaps.dataFrames)).toEqual([3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16]);
    expect(gaps.xyz.length).toBe(12 * 4 * 75);
    const none = readSkeletonFile(path.join(NTU, 'S005C003P002R001A007.skeleton'));
    expect([none.frames, none.dataFrames.length, none.xyz.length]).toEqual([5, 0, 0]);
  });

  test('exponent notation and numbers are parsed exactly as Python float()', () => {
    const s = parseSkeleton(Buffer.from('1\n1\n1 0 1 1 1 1 0 0 0 2\n2\n-7.629395E-06 0.1 3.785547 0 0 0 0 0 0 0 0 2\n+1e2 -0 .5 0 0 0 0 0 0 0 0 2\n'));
    expect([at(s, 0, 0, 0, 0), at(s, 0, 0, 0, 1), at(s, 0, 0, 0, 2)]).toEqual([-7.629395e-6, 0.1, 3.785547]);
    expect([at(s, 0, 0, 1, 0), at(s, 0, 0, 1, 2)]).toEqual([100, 0.5]);
  });

  test('pushing the file in small chunks gives the same result', () => {
    const bytes = fs.readFileSync(path.join(NTU, 'S001C002P003R002A013.skeleton'));
    const p = new SkeletonParser('chunks');
    for (let i = 0; i < bytes.length; i += 97) p.push(bytes.subarray(i, i + 97));
    const whole = parseSkeleton(bytes);
    const parts = p.end();
    expect(parts.xyz).toEqual(whole.xyz);
    expect(parts.bodyCounts).toEqual(whole.bodyCounts);
  });

  test('malformed files: errors name the file and the line', () => {
    const good = fs.readFileSync(path.join(NTU, 'S001C001P001R001A001.skeleton'), 'latin1').split('\n');
    const bad =
      (lines: string[]): (() => SkeletonSequence) =>
      () =>
        parseSkeleton(Buffer.from(lines.join('\n')), 'S.skeleton');
    expect(bad(good.slice(0, 40))).toThrow('S.skeleton: truncated: the file ends where joint 9 of 25 of body 1 of frame 2 of 16 should be at line 41.');
    expect(bad(good.slice(0, 3))).toThrow('S.skeleton: truncated: the file ends where the joint count of body 1 of frame 1 of 16 should be at line 4.');
    const num = [...good];
    num[9] = num[9]!.replace(/^\S+/, '0.12x');
    expect(bad(num)).toThrow("S.skeleton: '0.12x' is not a number (in joint 6 of 25 of body 1 of frame 1 of 16) at line 10, column 1.");
    const short = [...good];
    short[6] = short[6]!.split(' ').slice(0, 11).join(' ');
    expect(bad(short)).toThrow('S.skeleton: expected 12 values for joint 3 of 25 of body 1 of frame 1 of 16 but found 11 at line 7.');
    const info = [...good];
    info[2] = '72057594038439523 0 1';
    expect(bad(info)).toThrow('expected 10 values for the 10 values of body 1 of frame 1 of 16 but found 3 at line 3.');
    const blank = [...good];
    blank[29] = '';
    expect(bad(blank)).toThrow('S.skeleton: expected the body count of frame 2 of 16 but found an empty line at line 30.');
    expect(bad(['x1', ...good.slice(1)])).toThrow("S.skeleton: expected the frame count but found 'x1' at line 1, column 1.");
    expect(bad([...good, '7 7'])).toThrow('S.skeleton: unexpected text after the last of the 16 frames announced on line 1 at line 451.');
    expect(() => readSkeletonFile(path.join(tmp, 'none.skeleton'))).toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }));
  });
});

describe('file names and splits', () => {
  test('S/C/P/R/A fields', () => {
    expect(parseSampleName('/x/S017C002P040R001A031.skeleton')).toEqual({
      name: 'S017C002P040R001A031.skeleton',
      setup: 17,
      camera: 2,
      performer: 40,
      replication: 1,
      action: 31,
    });
    expect(() => parseSampleName('/x/notes.skeleton')).toThrow('/x/notes.skeleton: not an NTU RGB+D sample name');
  });

  test('cross-subject, cross-view, cross-setup', () => {
    const s = (n: string) => parseSampleName(n);
    const trainP = [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38];
    for (let p = 1; p <= 40; p++) expect(isTraining(s(`S001C001P${String(p).padStart(3, '0')}R001A001`), 'xsub')).toBe(trainP.includes(p));
    expect([1, 2, 3].map((c) => isTraining(s(`S001C00${c}P001R001A001`), 'xview'))).toEqual([false, true, true]);
    expect(isTraining(s('S018C001P045R001A061'), 'xsub')).toBe(true); // NTU-120 training performer
    expect(isTraining(s('S018C001P044R001A061'), 'xsub')).toBe(false);
    expect([17, 18, 31, 32].map((n) => isTraining(s(`S0${n}C001P001R001A001`), 'xset'))).toEqual([false, true, false, true]);
  });
});

describe('official preprocessing of one sample', () => {
  const expected = parseNpy(zlib.gunzipSync(fs.readFileSync(path.join(NTU, 'expected_joint.npy.gz'))));

  test('matches the official Python output of the fixtures (expected_joint.npy.gz)', () => {
    expect(expected.shape).toEqual([NAMES.length, 100, 150]);
    let worst = 0;
    NAMES.forEach((name, i) => {
      const out = preprocessSkeleton(readSkeletonFile(path.join(NTU, name)));
      const want = (expected.data as Float32Array).subarray(i * ROW, (i + 1) * ROW);
      for (let k = 0; k < ROW; k++) worst = Math.max(worst, Math.abs(out[k]! - want[k]!));
    });
    console.log(`max |difference| to the official output: ${worst}`);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  test('the 2 most active bodies are kept; ties go to the higher body number', () => {
    const s = readSkeletonFile(path.join(NTU, 'S017C002P040R001A031.skeleton'));
    const e = [0, 1, 2, 3].map((b) => bodyEnergy(s, b));
    const sorted = [0, 1, 2, 3].sort((a, b) => e[b]! - e[a]!);
    expect(selectBodies(s)).toEqual(sorted.slice(0, 2));
    const one = readSkeletonFile(path.join(NTU, 'S001C001P001R001A001.skeleton'));
    expect(selectBodies(one)).toEqual([0, 3]); // numpy: argsort([e, 0, 0, 0])[::-1] = [0, 3, 2, 1]
    const twin = { ...one, xyz: one.xyz.slice() };
    for (let t = 0; t < twin.dataFrames.length; t++) twin.xyz.copyWithin((t * 4 + 2) * 75, t * 4 * 75, (t * 4 + 1) * 75);
    expect(selectBodies(twin)).toEqual([2, 0]);
  });

  test('null frames: non-empty frames moved to the start, the rest filled by repetition', () => {
    const s = readSkeletonFile(path.join(NTU, 'S002C003P008R001A050.skeleton'));
    const out = preprocessSkeleton(s);
    const nonEmpty = Array.from(s.bodyCounts).filter((n) => n > 0).length; // 12
    expect(nonEmpty).toBe(12);
    for (let t = 0; t < 100; t++) {
      expect(out.subarray(t * 150, t * 150 + 75)).toEqual(out.subarray((t % 12) * 150, (t % 12) * 150 + 75));
      expect(out.subarray(t * 150, t * 150 + 75).some((v) => v !== 0)).toBe(true);
    }
    expect(out.subarray(75, 150).every((v) => v === 0)).toBe(true); // no second body: zeros
  });

  test('only the first 100 frames count (after body selection over all frames)', () => {
    const long = parseSkeleton(text({ frames: 130, people: [{ activity: 1 }], seed: 5 }));
    const rows = long.dataFrames.filter((t) => t < 100).length;
    const cut = {
      ...long,
      frames: 100,
      bodyCounts: long.bodyCounts.slice(0, 100),
      dataFrames: long.dataFrames.slice(0, rows),
      xyz: long.xyz.slice(0, rows * 300),
    };
    expect(preprocessSkeleton(long)).toEqual(preprocessSkeleton(cut));
  });

  test('geometry: centred on joint 1, bone 0->1 along +z, then bone 4->8 along +x (within 1e-5)', () => {
    for (const seed of [1, 2, 3, 4]) {
      const seq = parseSkeleton(text({ frames: 40, people: [{ activity: 1 }, { activity: 0.5 }], emptyStart: seed, seed }));
      const s = keptFrames(seq);
      padNullFrames(s);
      centerOnSpine(s);
      for (let t = 0; t < 100; t++) for (let c = 0; c < 3; c++) expect(s[t * 75 + 3 + c]).toBe(0);
      alignBone(s, 0, 1, 2);
      const spine = [0, 1, 2].map((c) => s[3 + c]! - s[c]!);
      const norm = Math.hypot(...spine);
      expect(Math.abs(spine[0]!) / norm).toBeLessThan(1e-5);
      expect(Math.abs(spine[1]!) / norm).toBeLessThan(1e-5);
      expect(spine[2]).toBeGreaterThan(0);
      alignBone(s, 4, 8, 0);
      const shoulders = [0, 1, 2].map((c) => s[24 + c]! - s[12 + c]!);
      const n2 = Math.hypot(...shoulders);
      expect(Math.abs(shoulders[1]!) / n2).toBeLessThan(1e-5);
      expect(Math.abs(shoulders[2]!) / n2).toBeLessThan(1e-5);
      expect(shoulders[0]).toBeGreaterThan(0);
      // bone lengths are kept by the rotations
      const raw = keptFrames(seq);
      padNullFrames(raw);
      const len = (a: Float32Array, o: number, v: number, w: number): number => Math.hypot(...[0, 1, 2].map((c) => a[o + w * 3 + c]! - a[o + v * 3 + c]!));
      expect(len(s, 0, 4, 8)).toBeCloseTo(len(raw, 0, 4, 8), 5);
      expect(len(s, 7500 + 300, 12, 16)).toBeCloseTo(len(raw, 7500 + 300, 12, 16), 5);
    }
  });

  test('official layout: each frame is (body, coordinate, joint)', () => {
    const s = new Float32Array(2 * 100 * 75);
    s[((1 * 100 + 7) * 25 + 9) * 3 + 2] = 42; // body 1, frame 7, joint 9, z
    const out = toOfficialLayout(s);
    expect(out.indexOf(42)).toBe(7 * 150 + 1 * 75 + 2 * 25 + 9);
  });
});

describe('preprocess() of a raw directory', () => {
  const expected = parseNpy(zlib.gunzipSync(fs.readFileSync(path.join(NTU, 'expected_joint.npy.gz')))).data as Float32Array;
  const rowOf = (name: string): Float32Array => expected.subarray(NAMES.indexOf(name) * ROW, (NAMES.indexOf(name) + 1) * ROW);

  test.each([0, 1])('writes the official layout (workers: %d)', async (workers) => {
    const out = path.join(tmp, `out-${workers}`);
    const progress: number[] = [];
    const result = await datasets.ntu.preprocess({ raw: NTU, out, workers, onProgress: (p) => progress.push(p.done) });
    expect([result.variant, result.samples, result.workers]).toEqual([60, 6, workers]);
    expect(progress.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(fs.readdirSync(path.join(out, 'xsub')).sort()).toEqual([
      'train_data_joint.npy',
      'train_label.pkl',
      'train_lengths.npy',
      'val_data_joint.npy',
      'val_label.pkl',
      'val_lengths.npy',
    ]);
    const expectNames: Record<string, string[]> = {
      'xsub/train': ['S001C001P001R001A001', 'S002C003P008R001A050', 'S005C003P002R001A007'],
      'xsub/val': ['S001C002P003R002A013', 'S003C001P010R002A060', 'S017C002P040R001A031'],
      'xview/train': ['S001C002P003R002A013', 'S002C003P008R001A050', 'S005C003P002R001A007', 'S017C002P040R001A031'],
      'xview/val': ['S001C001P001R001A001', 'S003C001P010R002A060'],
    };
    for (const [split, names] of Object.entries(expectNames)) {
      const [bench, part] = split.split('/');
      const pkl = unpickle(fs.readFileSync(path.join(out, bench!, `${part}_label.pkl`)), { source: 'pkl' }) as unknown[];
      expect(isTuple(pkl)).toBe(true);
      expect(pkl).toEqual([names.map((n) => `${n}.skeleton`), names.map((n) => parseSampleName(n).action - 1)]);
      const data = readNpy(path.join(out, bench!, `${part}_data_joint.npy`));
      expect([data.dtype, data.shape]).toEqual(['float32', [names.length, 100, 150]]);
      names.forEach((n, i) => expect((data.data as Float32Array).subarray(i * ROW, (i + 1) * ROW)).toEqual(rowOf(`${n}.skeleton`)));
      // Each clip's own frames: the count on the first line of its file (all under 100 here).
      const frames = names.map((n) => Number(fs.readFileSync(path.join(NTU, `${n}.skeleton`), 'latin1').split('\n')[0]));
      const lengths = readNpy(path.join(out, bench!, `${part}_lengths.npy`));
      expect([lengths.dtype, Array.from(lengths.data as Int32Array)]).toEqual(['int32', frames]);
    }
  });

  test("keeps clips unpadded with { lengths: true }: batches carry each clip's frames", async () => {
    const out = path.join(tmp, 'unpadded');
    await datasets.ntu.preprocess({ raw: NTU, out, workers: 0 });
    const padded = datasets.ntu.load(out, { split: 'cv', part: 'train' });
    expect(padded.lengths).toBeUndefined();
    const ds = datasets.ntu.load(out, { split: 'cv', part: 'train', lengths: true });
    const frames = ds.names!.map((n) => Number(fs.readFileSync(path.join(NTU, n), 'latin1').split('\n')[0]));
    expect(Array.from(ds.lengths!)).toEqual(frames);
    expect(frames.every((f) => f < ds.steps)).toBe(true); // the fixture's clips are shorter than the 100 steps
    const batch = await ds.readRange(0, 2);
    expect(Array.from(batch.lengths!)).toEqual(frames.slice(0, 2));
    await ds.close();
    await padded.close();
    // The official preprocessed folders have no lengths file: a clear error, not 100 steps.
    fs.rmSync(path.join(out, 'xview', 'train_lengths.npy'));
    expect(() => datasets.ntu.load(out, { split: 'cv', lengths: true })).toThrow(
      expect.objectContaining({
        code: 'ERR_NOT_FOUND',
        message: expect.stringMatching(/train_lengths\.npy not found: .*nrnm-native preprocess --dataset ntu/),
      }),
    );
  });

  test('ignored samples (file or list), then loading the result', async () => {
    const list = path.join(tmp, 'missing.txt');
    fs.writeFileSync(list, 'S005C003P002R001A007\n\nS999C001P001R001A001\n');
    const out = path.join(tmp, 'ignored');
    const r = await datasets.ntu.preprocess({ raw: NTU, out, ignored: list, workers: 0 });
    expect([r.samples, r.ignored]).toEqual([5, 1]);
    const ds = datasets.ntu.load(out, { split: 'cv', part: 'train' });
    expect(ds.names).toEqual(['S001C002P003R002A013.skeleton', 'S002C003P008R001A050.skeleton', 'S017C002P040R001A031.skeleton']);
    expect([ds.length, ds.steps, ds.features, ds.classes]).toEqual([3, 100, 150, 60]);
    expect(Array.from(ds.labels)).toEqual([12, 49, 30]);
    const batches = [];
    for await (const b of ds.batches(2, { shuffle: true, seed: 9 })) batches.push(b);
    expect(batches.map((b) => b.shape)).toEqual([
      [2, 100, 150],
      [1, 100, 150],
    ]);
    for (const b of batches) b.indices.forEach((i, k) => expect(b.x.subarray(k * ROW, (k + 1) * ROW)).toEqual(rowOf(ds.names![i]!)));
    await ds.close();
    const r2 = await datasets.ntu.preprocess({ raw: NTU, out: path.join(tmp, 'ignored2'), ignored: ['S005C003P002R001A007.skeleton'], workers: 0 });
    expect(r2.samples).toBe(5);
    expect(datasets.ntu.load(path.join(tmp, 'ignored2', 'xsub'), { part: 'test' }).length).toBe(3);
  });

  test.each([0, 1])('a bad file stops it with the file and line, leaving no partial output (workers: %d)', async (workers) => {
    const raw = path.join(tmp, `raw-bad-${workers}`);
    fs.mkdirSync(raw);
    for (const n of NAMES) fs.copyFileSync(path.join(NTU, n), path.join(raw, n));
    const bad = path.join(raw, 'S001C001P001R001A001.skeleton');
    fs.writeFileSync(bad, fs.readFileSync(bad, 'latin1').split('\n').slice(0, 40).join('\n'));
    const out = path.join(tmp, `out-bad-${workers}`);
    await expect(datasets.ntu.preprocess({ raw, out, workers })).rejects.toThrow(
      `${bad}: truncated: the file ends where joint 9 of 25 of body 1 of frame 2 of 16 should be at line 41.`,
    );
    expect(fs.readdirSync(path.join(out, 'xsub'))).toEqual([]);
  });

  test.each([0, 2])('abort through the signal removes the partial files (workers: %d)', async (workers) => {
    const raw = path.join(tmp, 'corpus');
    if (!fs.existsSync(raw)) generate({ out: raw, count: 24, seed: 3 });
    const out = path.join(tmp, `aborted-${workers}`);
    const controller = new AbortController();
    const run = datasets.ntu.preprocess({ raw, out, workers, signal: controller.signal, onProgress: (p) => p.done === 5 && controller.abort() });
    await expect(run).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
    expect(fs.readdirSync(path.join(out, 'xsub'))).toEqual([]);
    const pre = new AbortController();
    pre.abort();
    await expect(datasets.ntu.preprocess({ raw, out, signal: pre.signal })).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
  });

  test('options are checked', async () => {
    await expect(datasets.ntu.preprocess({ raw: NTU, out: tmp, benchmarks: ['xsub', 'cross-view' as never] })).rejects.toThrow(
      "Expected benchmarks[] to be one of 'xsub', 'xview', 'xset' but received 'cross-view'",
    );
    await expect(datasets.ntu.preprocess({ raw: path.join(tmp, 'nope'), out: tmp })).rejects.toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }));
    await expect(datasets.ntu.preprocess({ raw: NTU, out: tmp, worker: 2 } as never)).rejects.toThrow(
      "Unknown option 'worker' for ntu.preprocess(); did you mean 'workers'?",
    );
  });
});

describe('official label pickles', () => {
  test.each(['labels_p0.pkl', 'labels_p2.pkl', 'labels_p4.pkl', 'labels_numpy_p2.pkl', 'labels_numpy_p4.pkl'])('%s written by Python', (name) => {
    const { names, labels } = datasets.ntu.readLabels(path.join(DATA, name));
    expect(names).toEqual(['S001C001P001R001A003.skeleton', 'S001C002P002R001A001.skeleton']);
    expect(Array.from(labels)).toEqual([2, 0]);
  });

  test('a pickle that would run code is refused, and nothing runs', () => {
    fs.rmSync('/tmp/nrnm-pwned', { force: true });
    expect(() => datasets.ntu.readLabels(path.join(DATA, 'evil.pkl'))).toThrow(/evil\.pkl: .*posix\.system/);
    expect(fs.existsSync('/tmp/nrnm-pwned')).toBe(false);
  });

  test('a missing folder says what to run', () => {
    expect(() => datasets.ntu.load(tmp, { split: 'cv' })).toThrow(
      /NTU RGB\+D xview\/train not found: looked for .*xview\/train_data_joint\.npy.*nrnm-native preprocess --dataset ntu/,
    );
  });
});
