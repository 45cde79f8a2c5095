import assert from "node:assert/strict";
import { terminalCharts } from "./charts.ts";
import { readRun } from "./records.ts";
import { FIXTURES, syntheticRun } from "./_synthetic.ts";

Deno.test("terminalCharts draws loss (train and validation) and a constant LR as one line", async () => {
  const text = terminalCharts(await readRun(`${FIXTURES}healthy`));
  assert.match(text, /loss per epoch \(50 epochs\) {2}— train \(first series\), validation/);
  assert.match(text, /learning rate per step \(650 steps\): constant at 0\.01$/m);
  // the axis labels are formatNumber's, to 3 digits (no padding zeros)
  assert.match(text, /^ {6}4\.2 ┤/m);
  assert.match(text, /^ {4}0\.227 ┤/m);
  assert.ok(text.split("\n").length > 10);
  // in colour the legend names the colours (drawn without, the two were told apart by order)
  const colored = terminalCharts(await readRun(`${FIXTURES}healthy`), { colors: true });
  assert.match(colored, /— train \(blue\), validation \(yellow\)/);
  // (an ANSI colour's escape: ESC, then [3Nm)
  assert.match(colored, new RegExp(`${String.fromCharCode(27)}\\[3[0-9]m`));
});

Deno.test("terminalCharts draws an exploding loss on a log scale and cuts it at NaN", async () => {
  const text = terminalCharts(await readRun(`${FIXTURES}diverged`));
  assert.match(text, /\(log scale\) \(NaN from point 3 on, not drawn\)/);
  // a log axis is labelled with the losses it stands for, as every command prints a loss
  const labels = text.split("\n").slice(1, 12).map((row) => row.slice(0, 9).trim());
  assert.equal(labels[0], "1.84e+11");
  assert.equal(labels.at(-1), "9140");
});

Deno.test("terminalCharts says so when nothing is finite or nothing was recorded", () => {
  assert.match(terminalCharts(syntheticRun([NaN, NaN])), /no finite values to plot/);
  assert.equal(terminalCharts(syntheticRun([])), "(no epochs or steps recorded yet)");
});

Deno.test("terminalCharts draws a run that ended within its first epoch by its steps' losses", () => {
  // (a run that diverged at step 5 of its first epoch showed only its learning rate)
  const steps = [3, 2.5, 2.2, 5, 40, NaN].map((loss, step) => ({ step, epoch: 0, loss, lr: 0.5 }));
  const text = terminalCharts(syntheticRun([], { steps }));
  assert.match(text, /^loss per step \(6 steps\)/);
  assert.match(text, /learning rate per step \(6 steps\)/);
});
