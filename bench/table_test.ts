import assert from "node:assert/strict";
import { textTable } from "./table.ts";

Deno.test("a row's ratio is against PyTorch's run beside its own backend, else against an untagged run", () => {
  const torch = [
    { workload: "mlp", framework: "pytorch", device: "cpu", ms_per_step: 100, backend: "wasm" },
    { workload: "mlp", framework: "pytorch", device: "cpu", ms_per_step: 200, backend: "cpu" },
    { workload: "cnn", framework: "pytorch", device: "cpu", ms_per_step: 50 },
  ];
  const rows = [
    { workload: "mlp", backend: "cpu", optimizer: "tfjs", msPerStep: 400 },
    { workload: "mlp", backend: "wasm", optimizer: "tfjs", msPerStep: 20 },
    { workload: "cnn", backend: "wasm", optimizer: "engine", msPerStep: 25 },
  ];
  const lines = textTable(rows, torch).split("\n").map((line) => line.trim().split(/\s{2,}/));
  assert.deepEqual(lines.slice(1).map((cells) => [cells[1], cells[4], cells[6]]), [
    ["cpu", "200.00", "2.0x"],
    ["wasm", "100.00", "0.2x"],
    ["wasm", "50.00", "0.5x"],
  ]);
});
