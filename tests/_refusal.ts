/**
 * How the tests against torch read anneal's verdict on a setting: its refusal's message, and
 * whether that refusal is one made on purpose.
 *
 * @module
 */

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
