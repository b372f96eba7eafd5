/**
 * Checkpoint files as users meet them: a safetensors file that loading
 * never runs code from, that plain Python reads, whose corruption,
 * truncation or crafted options are NRNMErrors naming the file.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Tensor, Trainer } from '../src';
import { checkpointHeader } from '../src/checkpoint';
import { syntheticTask } from './helpers/synthetic';

const small = { inputSize: 6, classes: 3, hiddenSize: 8, layers: 2, device: 'cpu', seed: 3 } as const;
const python = '/usr/bin/python3';
const havePython = spawnSync(python, ['-c', 'import json, struct, zlib']).status === 0;
const haveTorchPython = havePython && spawnSync(python, ['-c', 'import torch']).status === 0;
if (!havePython) console.warn(`${python} not found: skipping the plain-Python checkpoint check`);
if (!haveTorchPython) console.warn(`no torch for ${python}: skipping the code-running TorchScript archive check (the format-1 signature check still runs)`);

async function logitsOf(model: NRNMClassifier): Promise<number[]> {
  const { x, shape } = syntheticTask(4, 25, 6, 1);
  const out = await model.eval().predict(Tensor.from(x, shape));
  return Array.from(out.toArray() as Float32Array);
}

/** Format 1 of nrnm-native 0.1: "NRNMCKPT" | u32 1 | u32 n | n bytes of JSON | LibTorch archive. */
function legacyCheckpoint(archive: Buffer): Buffer {
  const header = Buffer.from(JSON.stringify(checkpointHeader({ model: { ...new NRNMClassifier(small).options } })));
  const prefix = Buffer.alloc(16);
  prefix.write('NRNMCKPT', 0, 'ascii');
  prefix.writeUInt32LE(1, 8);
  prefix.writeUInt32LE(header.length, 12);
  return Buffer.concat([prefix, header, archive]);
}

describe('checkpoint files', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-ckpt-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('are safetensors files that round-trip a model exactly and leave no temp file', async () => {
    const model = new NRNMClassifier(small);
    const file = path.join(dir, 'model.nrnm');
    await model.save(file, { note: 'x' });
    const bytes = fs.readFileSync(file);
    const headerSize = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerSize).toString('utf8')) as Record<string, { shape?: number[] }>;
    expect((header['__metadata__'] as unknown as Record<string, string>)['format']).toBe('nrnm-checkpoint');
    expect(header['decoder.0.weight']!.shape).toEqual([3, 8]);
    const back = await NRNMClassifier.load(file, { device: 'cpu' });
    expect(back.options).toEqual(model.options);
    expect(await logitsOf(back)).toEqual(await logitsOf(model));
    expect(fs.readdirSync(dir)).toEqual(['model.nrnm']);
    model.dispose();
    back.dispose();
  });

  (havePython ? it : it.skip)('open with plain Python (json + struct + zlib), checksum included', async () => {
    const model = new NRNMClassifier(small);
    const file = path.join(dir, 'python.nrnm');
    await model.save(file);
    const r = spawnSync(python, [path.join(__dirname, 'helpers', 'read-checkpoint.py'), file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const read = JSON.parse(r.stdout) as {
      metadata: Record<string, string>;
      tensors: Record<string, { shape: number[] }>;
      checksum_ok: boolean;
      first_values: Record<string, number[]>;
    };
    expect(read.checksum_ok).toBe(true);
    expect(JSON.parse(read.metadata['nrnm.header']!).model).toEqual(model.options);
    for (const [name, shape] of Object.entries(model.parameterShapes())) expect(read.tensors[name]!.shape).toEqual(shape);
    const dict = model.stateDict();
    const first = Array.from((dict['decoder.0.weight']!.toArray() as Float32Array).slice(0, 3));
    expect(read.first_values['decoder.0.weight']).toEqual(first);
    for (const t of Object.values(dict)) t.dispose();
    model.dispose();
  });

  it('detect every one of 100 random 4-byte corruptions, naming the file', async () => {
    const model = new NRNMClassifier(small);
    const trainer = new Trainer(model, {});
    const { x, y, shape } = syntheticTask(8, 25, 6, 3);
    await trainer.step(
      Tensor.from(x, shape),
      Tensor.from(
        Int32Array.from(y, (v) => v % 3),
        [8],
      ),
    );
    const good = path.join(dir, 'good.nrnm');
    await trainer.save(good);
    const bytes = fs.readFileSync(good);
    const bad = path.join(dir, 'bad.nrnm');
    let seed = 14;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let detected = 0;
    for (let trial = 0; trial < 100; trial++) {
      const copy = Buffer.from(bytes);
      const at = Math.floor(random() * (copy.length - 4));
      for (let i = 0; i < 4; i++) copy[at + i] = Math.floor(random() * 256);
      if (copy.equals(bytes)) copy[at] = copy[at]! ^ 0xff;
      fs.writeFileSync(bad, copy);
      const error = await Trainer.resume(bad, { device: 'cpu' }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      if (error && /^ERR_(FORMAT|ARG|CHECKPOINT_VERSION)$/.test(error.code) && error.message.includes(bad)) detected++;
      else throw new Error(`corruption at byte ${at} was not reported as a file error: ${error ? `${error.code} ${error.message}` : 'it loaded'}`);
    }
    expect(detected).toBe(100);
    trainer.dispose();
    model.dispose();
  });

  it('refuse truncated files, naming the file and without raw bytes in the message', async () => {
    const model = new NRNMClassifier(small);
    const file = path.join(dir, 'whole.nrnm');
    await model.save(file);
    const bytes = fs.readFileSync(file);
    const cut = path.join(dir, 'cut.nrnm');
    for (const size of [0, 5, 8, 64, bytes.length >> 1, bytes.length - 1]) {
      fs.writeFileSync(cut, bytes.subarray(0, size));
      const error = (await NRNMClassifier.load(cut).catch((e: unknown) => e)) as { code: string; message: string };
      expect(error.code).toBe('ERR_FORMAT');
      expect(error.message).toContain(cut);
      expect(error.message).toMatch(/truncated|malformed|not valid JSON/);
      // eslint-disable-next-line no-control-regex -- raw archive bytes are what must not appear
      expect(error.message).not.toMatch(/[\x00-\x08]/);
    }
    model.dispose();
  });

  it('refuse options that disagree with the stored parameters at load, not at the first predict', async () => {
    const wide = new NRNMClassifier({ ...small, hiddenSize: 16 });
    const crafted = checkpointHeader({ model: { ...new NRNMClassifier(small).options } }); // says hiddenSize 8
    const bytes = await wide.native().handle.save(JSON.stringify(crafted)); // valid checksum, hiddenSize 16 tensors
    const file = path.join(dir, 'crafted.nrnm');
    fs.writeFileSync(file, bytes);
    await expect(NRNMClassifier.load(file)).rejects.toMatchObject({
      code: 'ERR_FORMAT',
      message: expect.stringMatching(
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*the options and the parameters stored in the file disagree`),
      ),
    });
    wide.dispose();
  });

  it('refuse a model-only checkpoint for Trainer.resume and format-1 files with how to convert them', async () => {
    const model = new NRNMClassifier(small);
    const file = path.join(dir, 'model-only.nrnm');
    await model.save(file);
    await expect(Trainer.resume(file)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining('without trainer state') });
    const legacy = path.join(dir, 'legacy.nrnm');
    fs.writeFileSync(legacy, legacyCheckpoint(Buffer.from('PK\x03\x04 not read')));
    for (const load of [() => NRNMClassifier.load(legacy), () => Trainer.resume(legacy)]) {
      await expect(load()).rejects.toMatchObject({
        code: 'ERR_CHECKPOINT_VERSION',
        message: expect.stringMatching(/format 1.*Converting format-1 checkpoints/),
      });
    }
    model.dispose();
  });

  (haveTorchPython ? it : it.skip)('never run code from a file: a TorchScript archive whose __setstate__ writes a file', async () => {
    const archive = path.join(dir, 'code.pt');
    const marker = path.join(dir, 'code-ran');
    const made = spawnSync(python, [path.join(__dirname, 'helpers', 'code-running-archive.py'), archive, marker], { encoding: 'utf8' });
    expect(made.stdout.trim()).toBe('ran'); // the TorchScript loader does run it
    for (const [name, bytes] of [
      ['legacy-code.nrnm', legacyCheckpoint(fs.readFileSync(archive))],
      ['code.nrnm', fs.readFileSync(archive)],
    ] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, bytes);
      await expect(NRNMClassifier.load(file)).rejects.toMatchObject({ message: expect.stringContaining(file) });
      await expect(Trainer.resume(file)).rejects.toMatchObject({ message: expect.stringContaining(file) });
      expect(fs.existsSync(marker)).toBe(false);
    }
  });
});
