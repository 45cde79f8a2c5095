/**
 * How the tests against torch read anneal's verdict on a setting: its refusal's message, and
 * whether that refusal is one made on purpose.
 *
 * @module
 */

import { parseConfig } from "../config.ts";
import type { OptimizerSpec } from "../optimizers/spec.ts";

/** What anneal refuses on purpose says so, and what torch does with it. */
export const DELIBERATE = /torch 1\.13 accepts/;

/** anneal's verdict: undefined when it accepts `run`, else its error's message. */
export function refusal(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** anneal's verdict on an optimizer's settings: undefined when a config with them is accepted. */
export function optimizerRefusal(spec: OptimizerSpec): string | undefined {
  return refusal(() => parseConfig({ optimizer: spec }));
}
