import assert from "node:assert/strict";
import { AnnealError } from "../errors.ts";
import { parseOptimizerSpec } from "./parse.ts";

function messageOf(input: unknown): string {
  try {
    parseOptimizerSpec(input);
  } catch (error) {
    assert.ok(error instanceof AnnealError);
    assert.equal(error.code, "config");
    return error.message;
  }
  assert.fail("expected an error");
}

Deno.test("an out-of-range beta names the field and the value", () => {
  assert.equal(
    messageOf({ name: "adam", betas: [0.9, 1.2] }),
    "Cannot create adam optimizer: 'betas[1]' must be in [0, 1), current value is 1.2",
  );
});

Deno.test("unknown keys are errors", () => {
  assert.equal(
    messageOf({ name: "adamw", weight_decay: 0.1 }),
    "Cannot create adamw optimizer: unknown field 'weight_decay' (did you mean 'weightDecay'?)",
  );
});

Deno.test("an unknown optimizer name lists the known ones", () => {
  assert.match(
    messageOf({ name: "sparseadam" }),
    /'name' must be one of "sgd", "adam", .*"adafactor", "adamax", "nadam", "radam", "adadelta"/,
  );
});

Deno.test("nesterov without momentum is rejected as torch does", () => {
  assert.equal(
    messageOf({ name: "sgd", nesterov: true }),
    "Cannot create sgd optimizer: 'nesterov' requires momentum > 0 and dampening = 0 " +
      "(momentum is 0: set optimizer.momentum=0.9; or nesterov false), current value is true",
  );
});

Deno.test("negative values and bad patterns are rejected with their path", () => {
  assert.equal(
    messageOf({ name: "rmsprop", lr: -1 }),
    "Cannot create rmsprop optimizer: 'lr' must be >= 0 (and > 0 for a run, unless a onecycle or " +
      "cyclic schedule sets the rates), current value is -1",
  );
  assert.match(
    messageOf({ name: "sgd", paramGroups: [{ match: "(" }] }),
    /'paramGroups\[0\]\.match' must be a valid regular expression, current value is "\("/,
  );
});

Deno.test("adadelta's rho and nadam's momentumDecay are refused where torch 1.13 refuses them", () => {
  assert.equal(
    messageOf({ name: "adadelta", rho: 1.5 }),
    "Cannot create adadelta optimizer: 'rho' must be in [0, 1], current value is 1.5",
  );
  assert.equal(parseOptimizerSpec({ name: "adadelta", rho: 1 }).name, "adadelta");
  assert.equal(
    messageOf({ name: "nadam", momentumDecay: -0.004 }),
    "Cannot create nadam optimizer: 'momentumDecay' must be >= 0, current value is -0.004",
  );
  assert.equal(
    messageOf({ name: "radam", betas: [1, 0.999] }),
    "Cannot create radam optimizer: 'betas[0]' must be in [0, 1), current value is 1",
  );
});

Deno.test("defaults are torch.optim's", () => {
  const expected = {
    sgd: { lr: 1e-3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    adam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false },
    adamw: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false },
    rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
    adagrad: { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
    lion: { lr: 1e-4, betas: [0.9, 0.99], weightDecay: 0 },
    lamb: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-6, weightDecay: 1e-2 },
    adafactor: { lr: 1e-2, beta2Decay: -0.8, eps: [null, 1e-3], d: 1, weightDecay: 0 },
    adamax: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, maximize: false },
    nadam: { lr: 2e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, momentumDecay: 4e-3 },
    radam: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
    adadelta: { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false },
  };
  for (const [name, defaults] of Object.entries(expected)) {
    const spec = parseOptimizerSpec({ name }) as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(defaults)) {
      assert.deepEqual(spec[key], value, `${name}.${key}`);
    }
    assert.deepEqual(spec.paramGroups, []);
    assert.equal(spec.noDecay, undefined, "no list: the rank < 2 rule");
  }
});

Deno.test("maximize is an option of the optimizers torch 1.13 gives it to, and no other", () => {
  const maximizeOf = (input: object) => (parseOptimizerSpec(input) as { maximize?: boolean });
  for (const name of ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "adadelta"]) {
    assert.equal(maximizeOf({ name }).maximize, false, `${name}: torch's default`);
    assert.equal(maximizeOf({ name, maximize: true }).maximize, true, name);
  }
  // (torch 1.13's NAdam and RAdam have no maximize; later versions added it)
  // (the one suggested: the nearest name, nadam's and radam's adam, not the list's first)
  const nearest = { lion: "sgd", lamb: "adam", adafactor: "adamax", nadam: "adam", radam: "adam" };
  for (const [name, suggested] of Object.entries(nearest)) {
    assert.equal(
      messageOf({ name, maximize: true }),
      `Cannot create ${name} optimizer: unknown field 'maximize' ('sgd', 'adam', 'adamw', ` +
        `'rmsprop', 'adagrad', 'adamax' and 'adadelta' have it, not '${name}': select one with ` +
        `"name": "${suggested}")`,
    );
  }
});

Deno.test("a spec that is not an object says so (from plain JavaScript: createOptimizer())", () => {
  assert.equal(
    messageOf(undefined),
    "Cannot create optimizer: the spec must be an object, current value is undefined",
  );
  assert.match(messageOf("adam"), /the spec must be an object, current value is "adam"/);
});

Deno.test("nesterov with dampening names the dampening and the value that mends it", () => {
  // (it said only "requires momentum > 0 and dampening = 0" of the nesterov flag)
  assert.equal(
    messageOf({ name: "sgd", nesterov: true, momentum: 0.9, dampening: 0.1 }),
    "Cannot create sgd optimizer: 'nesterov' requires momentum > 0 and dampening = 0 " +
      "(dampening is 0.1: set optimizer.dampening=0; or nesterov false), current value is true",
  );
});

Deno.test("adafactor's d below 1 is refused as torch.optim.Adafactor refuses it; lion's betas may be 1, as lion-pytorch's", () => {
  assert.equal(
    messageOf({ name: "adafactor", d: 0.5 }),
    "Cannot create adafactor optimizer: 'd' must be >= 1, current value is 0.5",
  );
  assert.equal((parseOptimizerSpec({ name: "adafactor", d: 1 }) as { d: number }).d, 1);
  assert.deepEqual(
    (parseOptimizerSpec({ name: "lion", betas: [1, 1] }) as { betas: number[] }).betas,
    [1, 1],
  );
  assert.equal(
    messageOf({ name: "lion", betas: [0.9, 1.1] }),
    "Cannot create lion optimizer: 'betas[1]' must be in [0, 1], current value is 1.1",
  );
});
