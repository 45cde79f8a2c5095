import assert from "node:assert/strict";
import { applyOverrides, parseConfig } from "../config.ts";
import { AnnealError } from "../errors.ts";
import { rateChange, rateOverride, rateSetting, risingSettings } from "./rate_setting.ts";
import type { SpecOf } from "./spec.ts";

const onecycle = { name: "onecycle", maxLr: 0.5, totalSteps: 100 };
const sequential = { name: "sequential", schedulers: [onecycle], milestones: [] };

Deno.test("the optimizer's lr sets the rates, except under onecycle (its maxLr, alone or in a sequential) and cyclic (its maxLr)", () => {
  const optimizer = { name: "sgd", lr: 0.01 };
  for (
    const scheduler of [undefined, { name: "cosine", tMax: 10 }, {
      name: "sequential",
      schedulers: [{ name: "linear" }, { name: "cosine", tMax: 10 }],
      milestones: [5],
    }]
  ) {
    assert.deepEqual(rateSetting(parseConfig({ optimizer, scheduler })), {
      path: "optimizer.lr",
      value: 0.01,
      oneCycle: false,
      settable: true,
    });
  }
  assert.deepEqual(rateSetting(parseConfig({ optimizer, scheduler: onecycle })), {
    path: "scheduler.maxLr",
    value: 0.5,
    oneCycle: true,
    schedule: "onecycle",
    settable: true,
  });
  assert.deepEqual(rateSetting(parseConfig({ optimizer, scheduler: sequential })), {
    path: "scheduler.schedulers.0.maxLr",
    value: 0.5,
    oneCycle: true,
    schedule: "onecycle",
    settable: false,
  });
  // torch's CyclicLR runs between its baseLr and maxLr: the peak is what a change sets
  const cyclic = { name: "cyclic", baseLr: 0.01, maxLr: 0.3 };
  assert.deepEqual(rateSetting(parseConfig({ optimizer, scheduler: cyclic })), {
    path: "scheduler.maxLr",
    value: 0.3,
    oneCycle: true,
    schedule: "cyclic",
    settable: true,
    baseLr: 0.01,
  });
  // a change scales the whole cycle: baseLr with maxLr
  const change = rateChange(rateSetting({ optimizer, scheduler: cyclic }), 0.03);
  assert.deepEqual(change.set, ["scheduler.maxLr=0.03", "scheduler.baseLr=0.001"]);
  assert.equal(
    change.text,
    "--set scheduler.maxLr=0.03 --set scheduler.baseLr=0.001: cyclic's rates run between its " +
      "baseLr and maxLr, not from optimizer.lr (baseLr scaled alike, so that the cycle keeps " +
      "its shape)",
  );
  const applied = parseConfig(applyOverrides({ scheduler: cyclic }, change.set));
  assert.deepEqual(
    [
      (applied.scheduler as { baseLr: number }).baseLr,
      (applied.scheduler as { maxLr: number }).maxLr,
    ],
    [0.001, 0.03],
  );
  // one override, the whole section, for the tools that write one (tune, lr-find --apply, --lr)
  assert.deepEqual(rateOverride({ scheduler: cyclic }, 0.03), {
    path: "scheduler",
    value: { name: "cyclic", baseLr: 0.001, maxLr: 0.03 },
  });
  // words, or a maxLr of 0 that cannot scale: the peak alone
  assert.deepEqual(rateChange(rateSetting({ scheduler: cyclic }), "a tenth of it").set, []);
  const flat = { name: "cyclic", baseLr: 0.01, maxLr: 0 };
  assert.deepEqual(rateChange(rateSetting({ scheduler: flat }), 0.1).set, ["scheduler.maxLr=0.1"]);
  // a record's config as plain JSON, or no config at all
  assert.equal(rateSetting({ scheduler: { name: "onecycle" } }).value, undefined);
  assert.equal(rateSetting(undefined).path, "optimizer.lr");
});

Deno.test("a rate change is a --set where --set reaches the setting, and says where otherwise", () => {
  const plain = rateChange(rateSetting({ optimizer: { lr: 0.5 } }), 0.05);
  assert.deepEqual(plain, { set: ["optimizer.lr=0.05"], text: "--set optimizer.lr=0.05" });
  const alone = rateChange(rateSetting({ optimizer: { lr: 0.5 }, scheduler: onecycle }), 0.05);
  assert.deepEqual(alone.set, ["scheduler.maxLr=0.05"]);
  assert.equal(
    alone.text,
    "--set scheduler.maxLr=0.05: onecycle's rates come from its maxLr, not optimizer.lr",
  );
  // the override works: it sets what the run's rates come from
  const applied = parseConfig(applyOverrides({ scheduler: onecycle }, alone.set));
  assert.equal((applied.scheduler as { maxLr: number }).maxLr, 0.05);

  const nested = rateChange(rateSetting({ scheduler: sequential }), 0.05);
  assert.deepEqual(nested.set, []);
  assert.match(
    nested.text,
    /^in the config file, set the maxLr of the sequential's onecycle, scheduler\.schedulers\[0\], to 0\.05: --set cannot reach into a list/,
  );
  // why: a --set path walks objects only, and refuses an index into the list of schedules
  assert.throws(
    () => applyOverrides({ scheduler: sequential }, ["scheduler.schedulers.0.maxLr=0.05"]),
    (error) =>
      error instanceof AnnealError &&
      /'scheduler\.schedulers' is a list .*and --set does not reach into a list/.test(
        error.message,
      ),
  );
  // words stand for an unknown rate: no override
  assert.deepEqual(rateChange(rateSetting({}), "a tenth of it").set, []);
});

Deno.test("a rate override sets the setting, or the whole scheduler section around a sequential's onecycle", () => {
  assert.deepEqual(rateOverride({ optimizer: { lr: 1 } }, 0.1), {
    path: "optimizer.lr",
    value: 0.1,
  });
  assert.deepEqual(rateOverride({ scheduler: onecycle }, 0.1), {
    path: "scheduler.maxLr",
    value: 0.1,
  });
  const config = parseConfig({ scheduler: sequential });
  const { path, value } = rateOverride(config, 0.1);
  assert.equal(path, "scheduler");
  const applied = parseConfig(applyOverrides({ scheduler: sequential }, [
    `scheduler=${JSON.stringify(value)}`,
  ]));
  assert.deepEqual(applied.scheduler, {
    ...config.scheduler,
    schedulers: [{ ...(config.scheduler as SpecOf<"sequential">).schedulers[0], maxLr: 0.1 }],
  });
  assert.equal(onecycle.maxLr, 0.5, "the config it read is left as it was");
});

Deno.test("risingSettings names a gamma above 1 and an etaMin above optimizer.lr, in a sequential by place", () => {
  const optimizer = { name: "sgd", lr: 0.1 };
  assert.deepEqual(
    risingSettings({ optimizer, scheduler: { name: "exponential", gamma: 0.9 } }),
    [],
  );
  assert.deepEqual(risingSettings({ optimizer, scheduler: { name: "cosine", etaMin: 0.1 } }), []);
  assert.deepEqual(risingSettings({ optimizer, scheduler: { name: "cosine", etaMin: 0.5 } }), [
    "scheduler.etaMin 0.5 is above optimizer.lr 0.1: the cosine climbs to it, whatever optimizer.lr is",
  ]);
  const scheduler = {
    name: "sequential",
    schedulers: [{ name: "linear" }, { name: "multistep", milestones: [3], gamma: 2 }],
    milestones: [5],
  };
  assert.deepEqual(risingSettings({ optimizer, scheduler }), [
    "scheduler.schedulers[1].gamma 2 is above 1: every decay multiplies the rate by 2",
  ]);
  // onecycle's rates rise to its maxLr by design; a plateau's factor is below 1
  assert.deepEqual(risingSettings({ optimizer, scheduler: { name: "onecycle", maxLr: 1 } }), []);
  assert.deepEqual(risingSettings({ optimizer }), []);
});
