/**
 * The plots `anneal report --plot` draws, by name: a module of their names alone, so that the CLI
 * checks a name before it loads the plotting (vega).
 *
 * @module
 */

/** The plots `plotSvg` (./vega.ts) draws. */
export const PLOTS = ["loss", "metrics", "lr", "gradNorm", "lrFind"] as const;
/** One of {@linkcode PLOTS}. */
export type PlotName = typeof PLOTS[number];
