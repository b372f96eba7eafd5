/**
 * The files of datasets/ that the readers load at run time (label names,
 * split definitions, sample lists): present, complete and wired to the API.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { datasets } from '../../src/data';
import { loadNpy } from '../../src/data/npy-dataset';

const ROOT = path.join(__dirname, '..', '..', 'datasets');

describe('shipped dataset files', () => {
  it('name the 10 Fashion-MNIST classes and the 120 NTU actions in label order', () => {
    expect(datasets.fashionMnist.classes).toHaveLength(10);
    expect(datasets.fashionMnist.classes[0]).toBe('T-shirt/top');
    expect(datasets.fashionMnist.classes[9]).toBe('Ankle boot');
    expect(datasets.ntu.actions).toHaveLength(120);
    expect(datasets.ntu.actions[0]).toBe('drink water');
    expect(datasets.ntu.actions[59]).toBe('walking apart from each other');
    expect(datasets.ntu.actions[119]).toBe('finger-guessing game (playing rock-paper-scissors)');
  });

  it('list the samples with missing skeletons the dataset authors publish: 302 of NTU-60, 535 of NTU-120', () => {
    const ntu60 = datasets.ntu.missingSkeletons(60);
    const ntu120 = datasets.ntu.missingSkeletons(120);
    expect(ntu60).toHaveLength(302);
    expect(ntu120).toHaveLength(535);
    for (const name of [...ntu60, ...ntu120]) expect(name).toMatch(/^S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}$/);
    expect(new Set(ntu60).size).toBe(302);
    // NTU-60 is the first 17 setups of NTU-120: its list is part of the larger one.
    const larger = new Set(ntu120);
    expect(ntu60.filter((n) => !larger.has(n))).toEqual([]);
  });

  it('define the cross-subject and cross-view splits the reader uses', () => {
    const splits = JSON.parse(fs.readFileSync(path.join(ROOT, 'ntu', 'splits.json'), 'utf8'));
    expect(datasets.ntu.trainPerformers).toEqual(splits.xsub.trainPerformers);
    expect(datasets.ntu.trainPerformers.slice(0, 20)).toEqual([1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38]);
    expect(datasets.ntu.trainCameras).toEqual([2, 3]);
  });

  it('hold an npy sample in the layout train --dataset npy reads', async () => {
    const dir = path.join(ROOT, 'npy', 'sample');
    const train = loadNpy(path.join(dir, 'train_x.npy'), path.join(dir, 'train_y.npy'));
    const test = loadNpy(path.join(dir, 'test_x.npy'), path.join(dir, 'test_y.npy'));
    expect([train.length, train.steps, train.features, train.classes]).toEqual([96, 20, 3, 3]);
    expect([test.length, test.steps, test.features]).toEqual([48, 20, 3]);
    const batch = await train.readRange(0, 4);
    expect(batch.x.every(Number.isFinite)).toBe(true);
    await train.close();
    await test.close();
  });
});
