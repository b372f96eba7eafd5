/**
 * Each default lives in one place per language: DEFAULT_MODEL_OPTIONS and
 * DEFAULT_TRAINER_OPTIONS in src/, the TORCH_ARG initialisers in C++
 * (native/nrnm/options.h, trainer.h). This holds the two to each other, so
 * a default changed on one side only fails here. (TypeScript always passes
 * every option across, so a disagreement would otherwise go unnoticed until
 * C++ code used its own default.)
 */
import { native } from '../src/native';
import { DEFAULT_MODEL_OPTIONS } from '../src/options';
import { DEFAULT_TRAINER_OPTIONS } from '../src/trainer';

describe('defaults', () => {
  it('of the model options agree between TypeScript and C++', () => {
    expect(native().defaultOptions().model).toEqual(DEFAULT_MODEL_OPTIONS);
  });

  it('of the trainer options agree between TypeScript and C++', () => {
    const { betas, ...rest } = DEFAULT_TRAINER_OPTIONS;
    expect(native().defaultOptions().trainer).toEqual({ ...rest, beta1: betas[0], beta2: betas[1] });
  });
});
