import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, NRNMError, Tensor } from '../../src';
import { readStateDict } from '../../src/serialization';
import { syntheticTask } from '../helpers/synthetic';

const small = { inputSize: 6, classes: 3, hiddenSize: 8, layers: 2, device: 'cpu', seed: 3 } as const;

describe('NRNMClassifier', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-model-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names its parameters as the official state_dict does', () => {
    const model = new NRNMClassifier(small);
    const names = model.parameterNames();
    for (const l of [0, 1]) {
      for (const n of [
        'weight_ih',
        'weight_hh',
        'bias',
        'weight_memi',
        'weight_memh',
        'weight_memt',
        'mem_bias',
        'MC.qkv_projector.weight',
        'MC.qkv_layernorm.weight',
        'MC.attention_mlp.0.weight',
        'MC.attended_memory_layernorm.bias',
        'MC.attended_memory_layernorm2.weight',
        'MC.input_projector.weight',
        'MC.input_gate_projector.weight',
        'MC.memory_gate_projector.bias',
        'MC.forget_bias',
        'MC.input_bias',
        'linear2.1.weight',
      ]) {
        expect(names).toContain(`rnn.cell_${l}.${n}`);
      }
    }
    expect(names).toContain('decoder.0.weight');
    expect(names.some((n) => n.includes('easy_projector') || n.includes('attention_mlp.1') || n.includes('linear1'))).toBe(false);
    const shapes = model.parameterShapes();
    expect(shapes['rnn.cell_0.weight_ih']).toEqual([6, 32]);
    expect(shapes['rnn.cell_1.weight_memh']).toEqual([16, 16]);
    expect(shapes['decoder.0.weight']).toEqual([3, 8]);
    model.dispose();
  });

  it('predicts logits [B, classes]; eval is deterministic, the seed fixes the weights', async () => {
    const { x, shape } = syntheticTask(4, 25, 6, 1);
    const a = new NRNMClassifier(small).eval();
    const b = new NRNMClassifier(small).eval();
    const la = await a.predict({ data: x, shape });
    const la2 = await a.predict(Tensor.from(x, shape));
    const lb = await b.predict({ data: x, shape });
    expect(la.shape).toEqual([4, 3]);
    expect(Array.from(la.toArray())).toEqual(Array.from(la2.toArray()));
    expect(Array.from(la.toArray())).toEqual(Array.from(lb.toArray()));
    const c = new NRNMClassifier({ ...small, seed: 4 }).eval();
    expect(Array.from((await c.predict({ data: x, shape })).toArray())).not.toEqual(Array.from(la.toArray()));
    for (const m of [a, b, c]) m.dispose();
  });

  it('draws dropout and zoneout masks in training mode', async () => {
    const { x, shape } = syntheticTask(4, 25, 6, 1);
    const model = new NRNMClassifier(small);
    expect(model.training).toBe(true);
    const first = (await model.predict({ data: x, shape })).toArray();
    const second = (await model.predict({ data: x, shape })).toArray();
    expect(Array.from(first)).not.toEqual(Array.from(second));
    model.dispose();
  });

  it('gives the loss and a gradient for every parameter', async () => {
    const { x, y, shape } = syntheticTask(5, 23, 6, 2);
    const model = new NRNMClassifier(small).eval();
    const { loss, gradients } = await model.lossAndGradients(
      { data: x, shape },
      y.map((v) => v % 3),
    );
    expect(loss).toBeGreaterThan(0);
    const shapes = model.parameterShapes();
    expect(Object.keys(gradients).sort()).toEqual(Object.keys(shapes).sort());
    for (const [name, grad] of Object.entries(gradients)) expect(grad.shape).toEqual(shapes[name]);
    const norm = Object.values(gradients).reduce((s, g) => s + g.toArray().reduce((a, v) => a + v * v, 0), 0);
    expect(norm).toBeGreaterThan(0);
    model.dispose();
  });

  it('rejects bad inputs before any native work, naming expected and given', async () => {
    const model = new NRNMClassifier(small);
    await expect(model.predict({ data: new Float32Array(2 * 5 * 7), shape: [2, 5, 7] })).rejects.toThrow(
      "Expected x to have 6 features (the model's inputSize) but received shape [2, 5, 7]",
    );
    await expect(model.predict({ data: new Float32Array(10), shape: [2, 5, 6] })).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    await expect(model.lossAndGradients({ data: new Float32Array(60), shape: [2, 5, 6] }, [0, 3])).rejects.toThrow(
      'Expected labels[1] to be an integer class in [0, 3) but received 3',
    );
    await expect(model.lossAndGradients({ data: new Float32Array(60), shape: [2, 5, 6] }, [0])).rejects.toThrow(
      'Expected 2 labels (one per sequence) but received 1',
    );
    expect(() => new NRNMClassifier({ ...small, device: 'gpu' })).toThrow(/Expected device to be 'cpu', 'cuda', 'cuda:N' or 'auto'/);
    model.dispose();
  });

  it('runs calls on one model one at a time, in call order, without blocking the event loop', async () => {
    const { x, y, shape } = syntheticTask(16, 60, 6, 3);
    const model = new NRNMClassifier({ ...small, hiddenSize: 32 }).eval();
    const order: string[] = [];
    const calls = [
      model.predict({ data: x, shape }).then(() => order.push('predict 1')),
      model
        .lossAndGradients(
          { data: x, shape },
          y.map((v) => v % 3),
        )
        .then(() => order.push('gradients')),
      model.predict({ data: x, shape }).then(() => order.push('predict 2')),
    ];
    // A synchronous read of the parameters would have to wait for the worker: it refuses instead.
    expect(() => model.stateDict()).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    await Promise.all(calls);
    expect(order).toEqual(['predict 1', 'gradients', 'predict 2']);
    expect(Object.keys(model.stateDict()).length).toBeGreaterThan(0);
    model.dispose();
  });

  it('throws ERR_DISPOSED from every method after dispose()', async () => {
    const model = new NRNMClassifier(small);
    model.dispose();
    model.dispose();
    const x = { data: new Float32Array(6), shape: [1, 1, 6] };
    await expect(model.predict(x)).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    await expect(model.lossAndGradients(x, [0])).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    for (const call of [() => model.parameterNames(), () => model.stateDict(), () => model.train(), () => model.device]) {
      expect(call).toThrow(NRNMError);
    }
    await expect(model.save(path.join(dir, 'x.nrnm'))).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
  });

  it('round-trips through savePyTorch and fromPyTorch bit-exactly, with the official extras', async () => {
    const model = new NRNMClassifier({ ...small, inputSize: 150 });
    const file = path.join(dir, 'model.pt');
    await model.savePyTorch(file);
    const entries = await readStateDict(file);
    const names = entries.map((e) => e.name);
    expect(names).toContain('rnn.cell_0.MC.easy_projector.weight');
    expect(names).toContain('rnn.cell_0.MC.attention_mlp.1.weight');
    expect(names).toContain('rnn.cell_0.linear1.1.weight'); // used: 150-wide input
    expect(names).toContain('rnn.cell_0.linear2.1.weight'); // unused, official shape
    expect(entries.find((e) => e.name === 'rnn.cell_0.linear2.1.weight')!.shape).toEqual([1024, 4096]);
    const back = await NRNMClassifier.fromPyTorch(file, { ...small, inputSize: 150 });
    const a = model.stateDict();
    const b = back.stateDict();
    for (const name of Object.keys(a)) expect(Buffer.from(b[name].toArray().buffer).equals(Buffer.from(a[name].toArray().buffer))).toBe(true);
    model.dispose();
    back.dispose();
  });

  it('reports every missing, unexpected and misshaped tensor by name', async () => {
    const model = new NRNMClassifier(small);
    const file = path.join(dir, 'small.pt');
    await model.savePyTorch(file);
    let error: NRNMError | undefined;
    try {
      await NRNMClassifier.fromPyTorch(file, { ...small, hiddenSize: 12, layers: 3 });
    } catch (err) {
      error = err as NRNMError;
    }
    expect(error?.code).toBe('ERR_FORMAT');
    expect(error?.message).toContain("missing tensor 'rnn.cell_2.weight_ih'");
    expect(error?.message).toMatch(/tensor 'rnn\.cell_0\.weight_hh' has shape \[8, 32\] but the model needs \[12, 48\]/);
    try {
      await NRNMClassifier.fromPyTorch(file, { ...small, layers: 1 });
    } catch (err) {
      error = err as NRNMError;
    }
    expect(error?.message).toContain("unexpected tensor 'rnn.cell_1.weight_ih'");
    model.dispose();
  });

  it('saves and loads an .nrnm checkpoint with identical predictions', async () => {
    const { x, shape } = syntheticTask(3, 21, 6, 5);
    const model = new NRNMClassifier(small).eval();
    const file = path.join(dir, 'm.nrnm');
    await model.save(file);
    const back = (await NRNMClassifier.load(file, { device: 'cpu' })).eval();
    expect(back.options).toEqual(model.options);
    expect(Array.from((await back.predict({ data: x, shape })).toArray())).toEqual(Array.from((await model.predict({ data: x, shape })).toArray()));
    model.dispose();
    back.dispose();
  });
});
