import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readCheckpoint, writeCheckpoint, type CheckpointHeader } from '../src/checkpoint';
import { resolveModelOptions } from '../src/options';

const header: CheckpointHeader = {
  format: 'nrnm-checkpoint',
  formatVersion: 1,
  packageVersion: '0.0.0',
  createdAt: new Date(0).toISOString(),
  model: resolveModelOptions({ inputSize: 3, classes: 2 }),
  trainer: null,
  progress: { epoch: 1, batch: 2, step: 3 },
  seed: 7,
  metrics: { loss: 0.5 },
};

describe('checkpoint files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips header and archive, and leaves no temp file', async () => {
    const file = path.join(dir, 'a.nrnm');
    await writeCheckpoint(file, header, Buffer.from([1, 2, 3, 4]));
    const back = await readCheckpoint(file);
    expect(back.header).toEqual(header);
    expect([...back.archive]).toEqual([1, 2, 3, 4]);
    expect(fs.readdirSync(dir)).toEqual(['a.nrnm']);
  });

  it('replaces an existing checkpoint only once the new one is complete', async () => {
    const file = path.join(dir, 'a.nrnm');
    await writeCheckpoint(file, header, Buffer.from([1]));
    await writeCheckpoint(file, { ...header, seed: 8 }, Buffer.from([2]));
    expect((await readCheckpoint(file)).header.seed).toBe(8);
  });

  it('names the file and the problem for foreign, truncated and future files', async () => {
    const file = path.join(dir, 'a.nrnm');
    await writeCheckpoint(file, header, Buffer.from([1, 2, 3]));
    const good = fs.readFileSync(file);

    fs.writeFileSync(file, Buffer.from('not a checkpoint at all'));
    await expect(readCheckpoint(file)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining(`${file} is not an nrnm-native checkpoint`) });

    fs.writeFileSync(file, good.subarray(0, 40));
    await expect(readCheckpoint(file)).rejects.toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining('truncated') });

    const future = Buffer.from(good);
    future.writeUInt32LE(99, 8);
    fs.writeFileSync(file, future);
    await expect(readCheckpoint(file)).rejects.toMatchObject({ code: 'ERR_CHECKPOINT_VERSION' });

    await expect(readCheckpoint(path.join(dir, 'missing.nrnm'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});
