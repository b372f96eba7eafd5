/**
 * Each default and each value set lives in one place per language:
 * DEFAULT_MODEL_OPTIONS, DEFAULT_TRAINER_OPTIONS and CHOICES in src/, the
 * TORCH_ARG initialisers and the EnumNames tables in C++
 * (native/nrnm/model/options.h, train/trainer.h, distributed/group.h). This
 * holds the two to each other, so a default or a value changed on one side
 * only fails here. (TypeScript always passes every option across, so a
 * disagreement would otherwise go unnoticed until C++ refused a value or
 * used its own default.)
 */
import { CHOICES } from '../src/choices';
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

  it('the value set of every option enum agrees between TypeScript and C++, in order', () => {
    expect(native().optionChoices()).toEqual(CHOICES);
  });

  it('every default of an option with a value set is one of its values', () => {
    const defaults: Record<string, unknown> = { ...DEFAULT_MODEL_OPTIONS, ...DEFAULT_TRAINER_OPTIONS, backend: 'gloo' };
    for (const [option, values] of Object.entries(CHOICES)) expect(values).toContain(defaults[option]);
  });
});
