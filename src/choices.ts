/**
 * The value set of every option that takes one of a few names, in one
 * place: the API's types and checks (options.ts, trainer.ts,
 * distributed.ts), the CLI's flags (cli/model-flags.ts) and the native
 * layer all read it. C++ has one table per enum (native/nrnm/runtime/
 * enum_names.h); test/options-defaults.test.ts holds the two to each other.
 * The first value of each list is not necessarily the default: the
 * defaults live in DEFAULT_MODEL_OPTIONS and DEFAULT_TRAINER_OPTIONS.
 */
export const CHOICES = {
  inputAggregation: ['dilated', 'strided'],
  zoneoutMode: ['shared', 'per-step'],
  memoryDropoutMode: ['shared', 'per-sample'],
  init: ['official', 'standard'],
  head: ['linear-elu', 'linear'],
  backbone: ['lstm', 'gru', 'rnn'],
  task: ['classify-sequence', 'classify-steps', 'regress-steps'],
  attention: ['self', 'linear'],
  optimizer: ['adam', 'adamw'],
  scheduler: ['step', 'cosine', 'plateau', 'none'],
  monitor: ['loss', 'accuracy'],
  precision: ['fp32', 'tf32', 'bf16'],
  backend: ['gloo', 'nccl'],
} as const;

export type ChoiceOption = keyof typeof CHOICES;
/** The union of the names `option` takes, e.g. Choice<'backbone'> = 'lstm' | 'gru' | 'rnn'. */
export type Choice<K extends ChoiceOption> = (typeof CHOICES)[K][number];
