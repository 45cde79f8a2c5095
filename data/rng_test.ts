import assert from "node:assert/strict";
import { Rng, seedFrom } from "./rng.ts";

Deno.test("seedFrom is deterministic, order-sensitive and keeps high bits", () => {
  assert.equal(seedFrom(1, 2), seedFrom(1, 2));
  assert.notEqual(seedFrom(1, 2), seedFrom(2, 1));
  assert.notEqual(seedFrom(5), seedFrom(5 + 2 ** 32));
  assert.notEqual(seedFrom(0), seedFrom(0, 0));
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(seedFrom(42, i));
  assert.equal(seen.size, 1000);
});

Deno.test("seedFrom rejects non-integers", () => {
  assert.throws(() => seedFrom(1.5), /not a safe integer/);
});

Deno.test("Rng state round-trips through JSON and continues the same stream", () => {
  const rng = new Rng(123);
  for (let i = 0; i < 10; i++) rng.uint32();
  const saved = JSON.parse(JSON.stringify(rng.state));
  const restored = Rng.fromState(saved);
  for (let i = 0; i < 100; i++) assert.equal(restored.uint32(), rng.uint32());
  assert.throws(() => Rng.fromState([1, 2, 3] as never), /four uint32/);
});

Deno.test("Rng.int is within range and roughly uniform", () => {
  const rng = new Rng(9);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 7000; i++) counts[rng.int(7)]++;
  for (const count of counts) assert.ok(count > 850 && count < 1150, `count ${count}`);
});

Deno.test("Rng.normal has mean 0 and variance 1", () => {
  const rng = new Rng(2024);
  let sum = 0, squares = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const v = rng.normal();
    assert.ok(Number.isFinite(v));
    sum += v;
    squares += v * v;
  }
  assert.ok(Math.abs(sum / n) < 0.03);
  assert.ok(Math.abs(squares / n - 1) < 0.04);
});

Deno.test("different seeds give different streams", () => {
  assert.notEqual(new Rng(1).uint32(), new Rng(2).uint32());
});
