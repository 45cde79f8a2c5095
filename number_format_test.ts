import assert from "node:assert/strict";
import { formatNumber } from "./number_format.ts";

Deno.test("formatNumber prints 4 significant digits, in exponent form below 1e-3 and from 1e5, without trailing zeros", () => {
  const cases: [unknown, string][] = [
    [14.627141628265381, "14.63"],
    [5.6116069984436034, "5.612"],
    [0.31640001, "0.3164"],
    [1.979696413040161, "1.98"],
    [13, "13"],
    [0.001, "0.001"],
    [0.00125, "0.00125"],
    [0.0003, "3e-4"],
    [1e-7, "1e-7"],
    [1.8329807108324375e-6, "1.833e-6"],
    [-2.5e-5, "-2.5e-5"],
    [99999, "1e+5"],
    [99984, "99980"],
    [0.00099996, "0.001"],
    [123456, "1.235e+5"],
    [0, "0"],
    [-0, "0"],
    [NaN, "NaN"],
    [-Infinity, "-Infinity"],
    [undefined, "-"],
    [null, "-"],
    ["n/a", "n/a"],
  ];
  for (const [value, text] of cases) assert.equal(formatNumber(value), text, String(value));
});

Deno.test("formatNumber to more digits keeps the rule: no trailing zeros, exponent form below 1e-3", () => {
  assert.equal(formatNumber(0.01, 6), "0.01");
  assert.equal(formatNumber(0.009999997, 6), "0.01");
  assert.equal(formatNumber(0.009876543, 6), "0.00987654");
  assert.equal(formatNumber(1.2345678e-5, 6), "1.23457e-5");
});
