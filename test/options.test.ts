import { NRNMError, resolveModelOptions } from '../src';
import { resolveTrainerOptions } from '../src/trainer';

const base = { inputSize: 150, classes: 60 };

describe('model options', () => {
  it('fills in the official defaults', () => {
    const o = resolveModelOptions(base);
    expect(o).toMatchObject({
      hiddenSize: 512,
      layers: 2,
      blockLength: 10,
      stride: 5,
      heads: 4,
      inputAggregation: 'dilated',
      zoneout: 0.2,
      zoneoutMode: 'shared',
      memoryDropout: 0.5,
      memoryDropoutMode: 'shared',
      aggregationDropout: 0.5,
      init: 'official',
      head: 'linear-elu',
      seed: 0,
    });
  });

  it.each([
    [{ blockLength: 10, stride: 3, inputAggregation: 'strided' }, 'stride must divide blockLength (got 10 and 3)'],
    [{ blockLength: 8, stride: 4 }, "inputAggregation 'dilated' needs blockLength 10 and stride 5 (got 8 and 4)"],
    [{ hiddenSize: 100, heads: 3 }, 'hiddenSize must be divisible by heads (got 100 and 3)'],
    [{ hiddenSize: 0 }, 'Expected hiddenSize to be a positive integer but received 0'],
    [{ zoneout: 1 }, 'Expected zoneout to be a number in [0, 1) but received 1'],
    [{ zoneoutMode: 'sometimes' }, "Expected zoneoutMode to be one of 'shared', 'per-step' but received 'sometimes'"],
    [{ hidden_size: 128 }, "Unknown option 'hidden_size' for NRNMClassifier; did you mean 'hiddenSize'?"],
    [{ classes: 1 }, 'Expected classes to be an integer >= 2 but received 1'],
  ])('rejects %j with a message naming the option', (extra, message) => {
    let error: unknown;
    try {
      resolveModelOptions({ ...base, ...extra } as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NRNMError);
    expect((error as NRNMError).code).toBe('ERR_ARG');
    expect((error as NRNMError).message).toContain(message);
  });

  it('requires inputSize', () => {
    expect(() => resolveModelOptions({ classes: 3 } as never)).toThrow(/inputSize/);
  });

  it('accepts the strided aggregation with any k divisible by s', () => {
    expect(resolveModelOptions({ ...base, inputAggregation: 'strided', blockLength: 8, stride: 4 }).blockLength).toBe(8);
  });
});

describe('trainer options', () => {
  it('defaults to the official Adam(lr=1e-3, weight_decay=1e-4) with StepLR(600, 0.1), no clipping', () => {
    expect(resolveTrainerOptions()).toEqual({
      optimizer: 'adam',
      lr: 1e-3,
      weightDecay: 1e-4,
      betas: [0.9, 0.999],
      eps: 1e-8,
      scheduler: 'step',
      stepSize: 600,
      gamma: 0.1,
      tMax: 0,
      minLr: 0,
      patience: 10,
      monitor: 'accuracy',
      warmupSteps: 0,
      clip: 0,
      precision: 'fp32',
    });
  });

  it('a cosine needs tMax, a plateau a factor below 1', () => {
    expect(() => resolveTrainerOptions({ scheduler: 'cosine' })).toThrow("scheduler 'cosine' needs tMax");
    expect(() => resolveTrainerOptions({ scheduler: 'plateau', gamma: 2 })).toThrow("scheduler 'plateau' needs gamma, its factor, in (0, 1) (got 2)");
    expect(() => resolveTrainerOptions({ monitor: 'acc' as never })).toThrow(/'loss', 'accuracy'/);
    expect(resolveTrainerOptions({ scheduler: 'cosine', tMax: 5, warmupSteps: 3 })).toMatchObject({ scheduler: 'cosine', tMax: 5, warmupSteps: 3 });
  });

  it('rejects bad values and typos', () => {
    expect(() => resolveTrainerOptions({ lr: 0 })).toThrow('Expected lr to be a positive number but received 0');
    expect(() => resolveTrainerOptions({ precision: 'fp16' as never })).toThrow(/'fp32', 'tf32', 'bf16'/);
    expect(() => resolveTrainerOptions({ weight_decay: 1 } as never)).toThrow(/did you mean 'weightDecay'/);
  });
});
