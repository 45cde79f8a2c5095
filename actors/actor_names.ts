/**
 * The five actors' names, without zod: `protocol.ts`'s `ActorNameSchema` is made of this list, and
 * `init_check.ts` checks an `Init`'s actor against it in Workers that do not load zod.
 *
 * @module
 */

/** The five actors of a run. */
export const ACTOR_NAMES = [
  "dataLoader",
  "trainer",
  "scheduler",
  "earlyStopper",
  "clipMonitor",
] as const;
