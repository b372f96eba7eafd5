// Smoke test of the benchmark: sane, structured results from a few steps of
// the small config. No timing assertions (the machine is shared).
import { formatBench, runBench } from '../../src/bench';
import { NRNMError } from '../../src/errors';

function expectTiming(
  t: { count: number; medianMs: number; p10Ms: number; p90Ms: number; minMs: number; maxMs: number; samplesMs: number[] },
  count: number,
): void {
  expect(t.count).toBe(count);
  expect(t.samplesMs).toHaveLength(count);
  expect(t.medianMs).toBeGreaterThan(0);
  expect(t.minMs).toBeLessThanOrEqual(t.p10Ms);
  expect(t.p10Ms).toBeLessThanOrEqual(t.medianMs);
  expect(t.medianMs).toBeLessThanOrEqual(t.p90Ms);
  expect(t.p90Ms).toBeLessThanOrEqual(t.maxMs);
}

describe('bench', () => {
  it('times NRNM and the LSTM on the small config and reports the ratio', async () => {
    const seen: string[] = [];
    const report = await runBench({ config: 'small', steps: 2, warmup: 0, inferSteps: 2, onResult: (r) => void seen.push(r.model) });
    expect(seen).toEqual(['nrnm', 'lstm']);
    expect(report.environment.device).toBe('cpu');
    expect(report.environment.torchVersion).toMatch(/^\d+\.\d+/);
    expect(report.environment.intraOpThreads).toBeGreaterThanOrEqual(1);
    expect(typeof report.environment.cpuCachingAllocator).toBe('boolean');
    expect(report.results).toHaveLength(1);
    const r = report.results[0];
    expect(r.config).toMatchObject({ name: 'small', batch: 64, timeSteps: 100, features: 150, hidden: 128, layers: 1, aggregation: 'dilated' });
    expect(r.trainSteps).toBe(2);
    expect(r.warmup).toBe(0);
    for (const m of [r.nrnm!, r.lstm!]) {
      expectTiming(m.train, 2);
      expectTiming(m.infer, 2);
      expect(m.trainCpu.count).toBe(2);
      expect(m.trainSequencesPerS).toBeCloseTo((64 * 1000) / m.train.medianMs, 6);
      expect(Number.isFinite(m.lastLoss)).toBe(true);
      expect(m.parameters).toBeGreaterThan(0);
    }
    expect(r.nrnm!.description).toMatch(/^NRNMClassifier\(150, 60/);
    expect(r.lstm!.description).toMatch(/^LSTMClassifier\(150, 128/);
    // NRNM is a superset of the LSTM: more parameters.
    expect(r.nrnm!.parameters).toBeGreaterThan(r.lstm!.parameters);
    expect(r.ratio).toBeCloseTo(r.nrnm!.train.medianMs / r.lstm!.train.medianMs, 9);
    const text = formatBench(report);
    expect(text).toContain('NRNM / LSTM step time');
    expect(text).toContain('small: batch 64, 100 steps, 150 features, 1x128');
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('runs one model alone, without inference and without a ratio', async () => {
    const report = await runBench({ config: ['small'], models: ['lstm'], steps: 1, warmup: 0, inferSteps: 0 });
    const r = report.results[0];
    expect(r.nrnm).toBeUndefined();
    expect(r.ratio).toBeUndefined();
    expect(r.lstm!.train.count).toBe(1);
    expect(r.lstm!.infer.count).toBe(0);
  });

  it('rejects bad options before any native work', async () => {
    await expect(runBench({ config: 'huge' as never })).rejects.toThrow(/Expected config to be/);
    await expect(runBench({ steps: 0 })).rejects.toThrow(NRNMError);
    await expect(runBench({ threads: 1.5 })).rejects.toThrow(/Expected threads to be an integer >= 1/);
    await expect(runBench({ device: 'tpu' })).rejects.toMatchObject({ code: 'ERR_ARG' });
  });
});
