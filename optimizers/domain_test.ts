/**
 * torch 1.13's own verdict on the edges of every torch optimizer's settings (negative, zero, at
 * and above 1, eps 0 over a gradient entry that is always 0, ...), from
 * tests/fixtures/optimizers/torch_domain.json (generate.py): anneal's config must refuse what torch
 * refuses, and run what torch runs to the same parameters, NaN where torch has NaN, on the
 * reference chain and on the host optimizer; a refusal of something torch runs must say so (the
 * one there is: a zero learning rate). The same file steps each optimizer at a schedule's rates,
 * negative ones included, which torch's optimizers take as they are.
 *
 * @module
 */

import * as tf from "npm:@tensorflow/tfjs-core@4.22.0";
import "npm:@tensorflow/tfjs-backend-cpu@4.22.0";
import assert from "node:assert/strict";
import { float32s, hostOptimizerOf } from "./_trajectories.ts";
import { hasHostKernel } from "./host.ts";
import { createOptimizer, type Optimizer } from "./optimizer.ts";
import type { OptimizerSpec } from "./spec.ts";
import { optimizerRefusal } from "../tests/_refusal.ts";

await tf.setBackend("cpu");

interface DomainCase {
  spec: OptimizerSpec;
  /** The rate of each step, set in torch's param group before it (absent: the spec's lr). */
  lrs?: number[];
  /** torch's ValueError when it is built. */
  raises?: string;
  /** The parameters after each step, little-endian float32 in base64. */
  params?: string[];
}

const fixture: {
  torch: string;
  steps: number;
  param: number[][];
  grads: number[][][];
  cases: DomainCase[];
} = JSON.parse(
  await Deno.readTextFile(
    new URL("../tests/fixtures/optimizers/torch_domain.json", import.meta.url),
  ),
);

const label = (c: DomainCase) => `${JSON.stringify(c.spec)}${c.lrs ? ` at rates ${c.lrs}` : ""}`;

/** Steps `create(spec)` through the fixture's gradients, checking each step against torch. */
function replay(c: DomainCase, create: (spec: OptimizerSpec) => Optimizer, path: string): void {
  const weight = tf.variable(tf.tensor(fixture.param), true, "w");
  const optimizer = create(c.spec);
  try {
    for (let step = 0; step < fixture.steps; step++) {
      const grad = tf.tensor(fixture.grads[step]);
      optimizer.step([weight], [grad], c.lrs?.[step]);
      grad.dispose();
      const got = weight.dataSync();
      float32s(c.params![step]).forEach((want, i) => {
        const ok = Number.isNaN(want)
          ? Number.isNaN(got[i])
          : Math.abs(got[i] - want) <= 1e-5 * (Math.abs(want) + 1e-2);
        assert.ok(
          ok,
          `${label(c)} on the ${path}: w[${i}] after step ${step + 1} is ${got[i]}, torch ${want}`,
        );
      });
    }
  } finally {
    optimizer.dispose();
    weight.dispose();
  }
}

Deno.test(`anneal refuses every optimizer setting torch ${fixture.torch} refuses`, () => {
  const raising = fixture.cases.filter((c) => c.raises);
  assert.ok(raising.length >= 20, `only ${raising.length} refused settings in the fixture`);
  for (const c of raising) {
    assert.ok(
      optimizerRefusal(c.spec) !== undefined,
      `${label(c)}: torch raises ${c.raises}, anneal accepts it`,
    );
  }
});

Deno.test(`anneal runs every other setting to torch ${fixture.torch}'s parameters, or says it refuses it on purpose`, () => {
  let deliberate = 0;
  for (const c of fixture.cases.filter((c) => !c.raises)) {
    const refused = optimizerRefusal(c.spec);
    if (refused !== undefined) {
      assert.match(refused, /torch 1\.13 accepts/, `${label(c)}: torch runs it, anneal refuses it`);
      deliberate++;
      continue;
    }
    replay(c, createOptimizer, "reference chain");
    if (hasHostKernel(c.spec)) replay(c, hostOptimizerOf, "host optimizer");
  }
  // lr 0, once per optimizer
  assert.equal(deliberate, 9);
});

Deno.test("the fixture steps every torch optimizer at a schedule's negative rate", () => {
  const names = fixture.cases.filter((c) => c.lrs?.some((lr) => lr < 0)).map((c) => c.spec.name);
  assert.deepEqual([...new Set(names)].sort(), [
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "nadam",
    "radam",
    "rmsprop",
    "sgd",
  ]);
});
