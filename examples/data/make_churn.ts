/**
 * Writes `examples/data/churn.csv`: 400 customers of a subscription service as a Kaggle-style
 * table: a `customer_id` (no feature), the months they have stayed (`tenure`), their
 * `monthly_charges`, two string columns (`contract`: month-to-month, one-year, two-year;
 * `payment`: card, bank, check) and whether they left (`churned`: yes or no). Some cells are empty,
 * as in real exports: a charge or a payment method nobody recorded. Whether a customer leaves is
 * drawn from a logistic model of those columns, so no model gets every row right.
 * Seeded: running it again writes the same file (`tests/examples_test.ts` checks that).
 *
 * ```sh
 * npx -y deno@2.9.6 run --allow-write examples/data/make_churn.ts
 * ```
 *
 * @module
 */

import { Rng } from "../../data/rng.ts";

const CONTRACTS: [string, number][] = [["month-to-month", 1.6], ["one-year", -0.6], [
  "two-year",
  -2,
]];
const PAYMENTS: [string, number][] = [["bank", -0.3], ["card", -0.3], ["check", 0.8]];
const CUSTOMERS = 400;

/** The file's text: a header, then one row a customer. */
export function churnCsv(seed = 11): string {
  const rng = new Rng(seed);
  const rows: string[] = [];
  for (let i = 0; i < CUSTOMERS; i++) {
    const [contract, contractEffect] = CONTRACTS[rng.int(CONTRACTS.length)];
    const [payment, paymentEffect] = PAYMENTS[rng.int(PAYMENTS.length)];
    const tenure = 1 + rng.int(72);
    const charges = 20 + 100 * rng.float();
    const logit = contractEffect + paymentEffect - 0.04 * (tenure - 24) +
      0.02 * (charges - 70);
    const churned = rng.float() < 1 / (1 + Math.exp(-logit)) ? "yes" : "no";
    const chargesText = rng.float() < 0.04 ? "" : charges.toFixed(2);
    const paymentText = rng.float() < 0.04 ? "" : payment;
    const id = `C${String(1000 + i)}`;
    rows.push(`${id},${tenure},${chargesText},${contract},${paymentText},${churned}`);
  }
  return ["customer_id,tenure,monthly_charges,contract,payment,churned", ...rows].join("\n") +
    "\n";
}

if (import.meta.main) {
  const path = new URL("./churn.csv", import.meta.url);
  await Deno.writeTextFile(path, churnCsv());
  console.log(`wrote ${path.pathname}`);
}
