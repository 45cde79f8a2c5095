/**
 * Writes `examples/data/sensors.csv`: 360 readings of a machine's sensors on very different scales
 * (temperature in degrees C, vibration in mm/s, current in A, speed in rpm) and the state it was in
 * (`idle`, `normal` or `worn`). The states overlap, so no model classifies every reading right.
 * Seeded: running it again writes the same file (`tests/examples_test.ts` checks that).
 *
 * ```sh
 * npx -y deno@2.9.6 run --allow-write examples/data/make_sensors.ts
 * ```
 *
 * @module
 */

import { Rng } from "../../data/rng.ts";

/** Mean and standard deviation of each sensor, per state. */
const STATES: Record<string, [number, number][]> = {
  idle: [[38, 3], [0.4, 0.2], [1.2, 0.4], [0, 0]],
  normal: [[61, 5], [2.1, 0.6], [7.5, 1.2], [1480, 40]],
  worn: [[67, 6], [4.2, 1.1], [8.6, 1.5], [1440, 60]],
};
const PER_STATE = 120;

/** The file's text: a header, then the readings in a shuffled order. */
export function sensorsCsv(seed = 7): string {
  const rng = new Rng(seed);
  const rows: string[] = [];
  for (const [state, sensors] of Object.entries(STATES)) {
    for (let i = 0; i < PER_STATE; i++) {
      const values = sensors.map(([mean, std]) => mean + std * rng.normal());
      // an idle machine does not turn; the other readings keep their noise
      if (state === "idle") values[3] = 0;
      const [temperature, vibration, current, rpm] = values;
      rows.push(
        `${temperature.toFixed(1)},${vibration.toFixed(2)},${current.toFixed(2)},` +
          `${Math.round(rpm)},${state}`,
      );
    }
  }
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  return ["temperature,vibration,current,rpm,state", ...rows].join("\n") + "\n";
}

if (import.meta.main) {
  const path = new URL("./sensors.csv", import.meta.url);
  await Deno.writeTextFile(path, sensorsCsv());
  console.log(`wrote ${path.pathname}`);
}
