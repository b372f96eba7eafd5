/**
 * `using` and `await using` (explicit resource management; TypeScript 5.2+
 * on Node 20): NRNMClassifier, Trainer and Tensor free their native memory
 * at the end of the block, in reverse order of declaration, also when the
 * block throws; `await using` first waits for the calls already queued.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { NRNMClassifier, Tensor, Trainer } from '../../src';
import { ensureBuilt } from '../cli/run-cli';

// Jest runs each test file in a vm context of its own, whose Symbol lacks the
// dispose and asyncDispose that Node 20.20 gives the main realm's (there they
// are Symbol.for('nodejs.dispose') and Symbol.for('nodejs.asyncDispose')).
// TypeScript's `using` helper reads them from this realm: give it Node's. The
// last test runs in a process's main realm, where nothing is added.
for (const [name, key] of [
  ['dispose', 'nodejs.dispose'],
  ['asyncDispose', 'nodejs.asyncDispose'],
] as const) {
  if (!(name in Symbol)) Object.defineProperty(Symbol, name, { value: Symbol.for(key) });
}

const modelOptions = { inputSize: 3, classes: 2, hiddenSize: 8, layers: 1, device: 'cpu', seed: 1 } as const;
const x = () => ({ data: new Float32Array(2 * 4 * 3).fill(0.5), shape: [2, 4, 3] });

beforeAll(() => ensureBuilt());

it('using: model, trainer and tensor are disposed at the end of the block, the last declared first', async () => {
  const order: string[] = [];
  let model: NRNMClassifier;
  let trainer: Trainer;
  let logits: Tensor;
  {
    using m = new NRNMClassifier(modelOptions);
    using t = new Trainer(m, { lr: 1e-3 });
    await t.step(x(), [0, 1]);
    using out = await m.predict(x());
    [model, trainer, logits] = [m, t, out];
    // The trainer is disposed before its model: the model is still live while it goes.
    const dispose = t.dispose.bind(t);
    t.dispose = () => {
      order.push(`trainer (model ${m.disposed ? 'disposed' : 'live'})`);
      dispose();
    };
    expect([model.disposed, trainer.disposed, logits.disposed]).toEqual([false, false, false]);
  }
  expect([model.disposed, trainer.disposed, logits.disposed]).toEqual([true, true, true]);
  expect(order).toEqual(['trainer (model live)']);
  await expect(model.predict(x())).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
  expect(() => logits.toArray()).toThrow(/disposed/);
  expect(() => trainer.lr).toThrow(/disposed/);
});

it('using disposes when the block throws', () => {
  let model: NRNMClassifier | undefined;
  expect(() => {
    using m = new NRNMClassifier(modelOptions);
    model = m;
    throw new Error('inside');
  }).toThrow('inside');
  expect(model!.disposed).toBe(true);
});

it('await using waits for the calls already queued, then frees', async () => {
  let model: NRNMClassifier;
  let pending: Promise<Tensor<'float32'>>;
  {
    await using m = new NRNMClassifier(modelOptions);
    await using t = new Trainer(m, { lr: 1e-3 });
    model = m;
    void t.step(x(), [0, 1]); // not awaited: the trainer's disposal waits for it
    pending = m.predict(x()); // queued after the step: the model's disposal waits for it
  }
  expect(model.disposed).toBe(true);
  const out = await pending; // it ran before the model was freed
  expect(out.shape).toEqual([2, 2]);
  out.dispose();
});

it("the end of a using block frees a tensor's native memory, with no garbage collection", () => {
  const script = `require(${JSON.stringify(path.join(__dirname, '..', 'helpers', 'ts-register.js'))});
    console.log(JSON.stringify(require(${JSON.stringify(path.join(__dirname, '..', 'helpers', 'using-scenario.ts'))}).usingScenario()));`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, NRNM_CPU_CACHE: '0' }, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const { before, held, after, disposed } = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number | boolean>;
  expect(disposed).toBe(true);
  expect((held as number) - (before as number)).toBeGreaterThan(100); // the 128 MiB copy is resident in the block
  expect((held as number) - (after as number)).toBeGreaterThan(100); // and gone at its end
});
