/**
 * The optimizer spec: one strict zod schema per optimizer, discriminated on `name`, with
 * torch.optim's argument names in camelCase and torch.optim's defaults (PyTorch 2.5; Lion,
 * LAMB and Adafactor as their reference implementations define them; Adamax, NAdam, RAdam and
 * Adadelta as PyTorch 1.13 has them). Unknown keys are errors.
 *
 * @module
 */

import { z } from "npm:zod@4.6.7";
import { BATCH_SCALINGS } from "./scaling.ts";

const nonNegative = () => z.number().gte(0);
// A learning rate below 0 is told the whole rule at once: a run refuses 0 too (config.ts), except
// under a onecycle or cyclic schedule, whose rates ignore the optimizer's `lr`.
const learningRate = () =>
  z.number().gte(0, {
    error: "must be >= 0 (and > 0 for a run, unless a onecycle or cyclic schedule sets the rates)",
  });
const unitInterval = () =>
  z.number().refine((value) => value >= 0 && value < 1, { message: "must be in [0, 1)" });
const closedUnit = () =>
  z.number().refine((value) => value >= 0 && value <= 1, { message: "must be in [0, 1]" });
const betas = (beta1: number, beta2: number) =>
  z.tuple([unitInterval(), unitInterval()]).default([beta1, beta2]);
// torch 1.13's `maximize` (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Adadelta): the gradient is negated before
// anything else reads it, weight decay and momentum included, so the step ascends the loss.
const maximize = () => z.boolean().default(false);
const regexSource = z.string().refine((source) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}, { message: "must be a valid regular expression" });

/** One parameter group: the variables whose name matches `match` (a RegExp source). */
export const ParamGroupSchema = z.strictObject({
  match: regexSource,
  // 1 keeps the optimizer's learning rate; torch groups override `lr`, we scale it so that the
  // scheduler still drives every group.
  lrMultiplier: nonNegative().default(1),
  // Absent: the optimizer's weightDecay and the no-decay rules apply.
  weightDecay: nonNegative().optional(),
});

// Fields every optimizer has. `lr` defaults are per optimizer (torch's), so it is not here.
const common = {
  // No groups: every variable uses the optimizer's own settings.
  paramGroups: z.array(ParamGroupSchema).default([]),
  // RegExp sources of the variables without weight decay, matched against their names. Absent:
  // every variable of rank < 2 (biases, norm scales and shifts), as nanoGPT and timm do. A list
  // replaces that rule: `[]` decays every variable, as torch.optim does with model.parameters().
  noDecay: z.array(regexSource).optional().describe(
    "RegExp sources of the variables without weight decay. Absent: biases and norm parameters " +
      "(rank < 2) get none. [] decays every variable, as torch.optim over model.parameters().",
  ),
  // The batch size `lr` was tuned for; absent means no scaling. The run scales `lr` to its
  // effective batch by `batchScaling`'s rule.
  baseBatch: z.number().int().gt(0).optional(),
  // Absent: linear for sgd, sqrt for the adaptive optimizers (optimizers/scaling.ts).
  batchScaling: z.enum(BATCH_SCALINGS).optional().describe(
    "How lr scales with the batch (optimizer.baseBatch, anneal batch-size): linear " +
      "(Goyal et al.) or sqrt (Malladi et al.). Absent: linear for sgd, sqrt for the others.",
  ),
};

/** torch.optim.SGD (lr default 1e-3 as in PyTorch >= 2.2). */
export const SgdSpecSchema = z.strictObject({
  name: z.literal("sgd"),
  lr: learningRate().default(1e-3),
  momentum: nonNegative().default(0),
  // Any value, as in torch 1.13 (no range check): the update enters the buffer times 1 - dampening.
  dampening: z.number().default(0),
  nesterov: z.boolean().default(false),
  weightDecay: nonNegative().default(0),
  maximize: maximize(),
  ...common,
}).superRefine((spec, context) => {
  if (!spec.nesterov || (spec.momentum > 0 && spec.dampening === 0)) return;
  // (the setting that breaks it named with its value and the change that mends it: the path
  // stays `nesterov`, the field these rules belong to, as torch's ValueError says)
  const fixes = [
    ...(spec.momentum > 0 ? [] : [`momentum is ${spec.momentum}: set optimizer.momentum=0.9`]),
    ...(spec.dampening === 0 ? [] : [`dampening is ${spec.dampening}: set optimizer.dampening=0`]),
  ];
  context.addIssue({
    code: "custom",
    message: `requires momentum > 0 and dampening = 0 (${fixes.join("; ")}; or nesterov false)`,
    path: ["nesterov"],
  });
});

/** torch.optim.Adam: `weightDecay` is L2 added to the gradient. */
export const AdamSpecSchema = z.strictObject({
  name: z.literal("adam"),
  lr: learningRate().default(1e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative().default(1e-8),
  weightDecay: nonNegative().default(0),
  amsgrad: z.boolean().default(false),
  maximize: maximize(),
  ...common,
});

/** torch.optim.AdamW: decoupled weight decay, default 1e-2. */
export const AdamwSpecSchema = z.strictObject({
  name: z.literal("adamw"),
  lr: learningRate().default(1e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative().default(1e-8),
  weightDecay: nonNegative().default(1e-2),
  amsgrad: z.boolean().default(false),
  maximize: maximize(),
  ...common,
});

/** torch.optim.RMSprop. */
export const RmspropSpecSchema = z.strictObject({
  name: z.literal("rmsprop"),
  lr: learningRate().default(1e-2),
  // torch 1.13 checks only 0 <= alpha. Above 1 the square average starts negative, so every
  // coordinate with a nonzero gradient is NaN after the first step, in torch as here.
  alpha: z.number().gte(0).default(0.99),
  eps: nonNegative().default(1e-8),
  weightDecay: nonNegative().default(0),
  momentum: nonNegative().default(0),
  centered: z.boolean().default(false),
  maximize: maximize(),
  ...common,
});

/** torch.optim.Adagrad. */
export const AdagradSpecSchema = z.strictObject({
  name: z.literal("adagrad"),
  lr: learningRate().default(1e-2),
  lrDecay: nonNegative().default(0),
  weightDecay: nonNegative().default(0),
  initialAccumulatorValue: nonNegative().default(0),
  eps: nonNegative().default(1e-10),
  maximize: maximize(),
  ...common,
});

/** Lion (Chen et al. 2023; defaults of lucidrains/lion-pytorch): decoupled weight decay. */
export const LionSpecSchema = z.strictObject({
  name: z.literal("lion"),
  lr: learningRate().default(1e-4),
  // [0, 1] as lion-pytorch checks them: Lion divides by no 1 - beta (a beta2 of 1 keeps the
  // momentum it started with, 0)
  betas: z.tuple([closedUnit(), closedUnit()]).default([0.9, 0.99]),
  weightDecay: nonNegative().default(0),
  ...common,
});

/** LAMB (You et al. 2020; defaults and options of timm's `Lamb`, without its grad clipping). */
export const LambSpecSchema = z.strictObject({
  name: z.literal("lamb"),
  lr: learningRate().default(1e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative().default(1e-6),
  weightDecay: nonNegative().default(1e-2),
  biasCorrection: z.boolean().default(true),
  // timm: the trust ratio applies only where weight decay does, unless alwaysAdapt.
  alwaysAdapt: z.boolean().default(false),
  trustClip: z.boolean().default(false),
  ...common,
});

/** Adafactor as torch.optim.Adafactor (PyTorch 2.5): `eps[0]` null means the f32 epsilon. */
export const AdafactorSpecSchema = z.strictObject({
  name: z.literal("adafactor"),
  lr: learningRate().default(1e-2),
  beta2Decay: z.number().lte(0).default(-0.8),
  eps: z.tuple([nonNegative().nullable(), nonNegative()]).default([null, 1e-3]),
  d: z.number().gte(1).default(1),
  weightDecay: nonNegative().default(0),
  ...common,
});

/** torch.optim.Adamax: Adam with the infinity norm; `weightDecay` is L2 added to the gradient. */
export const AdamaxSpecSchema = z.strictObject({
  name: z.literal("adamax"),
  lr: learningRate().default(2e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative().default(1e-8),
  weightDecay: nonNegative().default(0),
  maximize: maximize(),
  ...common,
});

/**
 * torch.optim.NAdam (1.13: no `maximize`, L2 `weightDecay`): Adam with Nesterov momentum, whose
 * momentum schedule `beta1 * (1 - 0.5 * 0.96 ** (t * momentumDecay))` warms up over the steps.
 */
export const NadamSpecSchema = z.strictObject({
  name: z.literal("nadam"),
  lr: learningRate().default(2e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative().default(1e-8),
  weightDecay: nonNegative().default(0),
  momentumDecay: nonNegative().default(4e-3),
  ...common,
});

/**
 * torch.optim.RAdam (1.13: no `maximize`, L2 `weightDecay`): Adam whose adaptive step is
 * rectified by its variance, plain momentum SGD while the variance is intractable.
 */
export const RadamSpecSchema = z.strictObject({
  name: z.literal("radam"),
  lr: learningRate().default(1e-3),
  betas: betas(0.9, 0.999),
  eps: nonNegative().default(1e-8),
  weightDecay: nonNegative().default(0),
  ...common,
});

/** torch.optim.Adadelta: `lr` 1 scales the update as torch's does; `rho` may be 1, as in torch. */
export const AdadeltaSpecSchema = z.strictObject({
  name: z.literal("adadelta"),
  lr: learningRate().default(1),
  rho: closedUnit().default(0.9),
  eps: nonNegative().default(1e-6),
  weightDecay: nonNegative().default(0),
  maximize: maximize(),
  ...common,
});

/** Any optimizer spec, discriminated on `name`. */
export const OptimizerSpecSchema = z.discriminatedUnion("name", [
  SgdSpecSchema,
  AdamSpecSchema,
  AdamwSpecSchema,
  RmspropSpecSchema,
  AdagradSpecSchema,
  LionSpecSchema,
  LambSpecSchema,
  AdafactorSpecSchema,
  AdamaxSpecSchema,
  NadamSpecSchema,
  RadamSpecSchema,
  AdadeltaSpecSchema,
]);

/** An optimizer spec as written by a user (defaults optional). */
export type OptimizerSpec = z.input<typeof OptimizerSpecSchema>;
/** An optimizer spec with every default filled in. */
export type ResolvedOptimizerSpec = z.output<typeof OptimizerSpecSchema>;
/** The optimizer names. */
export type OptimizerName = ResolvedOptimizerSpec["name"];
