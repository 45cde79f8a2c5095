/**
 * Vega-Lite specs rendered to SVG strings headlessly (vega's `renderer: "none"` view: no browser,
 * no canvas). vega and vega-lite are loaded at the first chart, not with this module: the report
 * and schedule modules that chart are loaded by every `anneal` command and by `import "mod.ts"`,
 * and the two packages took ~70 ms of each start, most of which never draws a chart.
 *
 * @module
 */
import type * as vl from "npm:vega-lite@6.5.0";

type Vega = typeof import("npm:vega@6.4.0");
type VegaLite = typeof import("npm:vega-lite@6.5.0");
let loading: Promise<[Vega, VegaLite]> | undefined;

/**
 * Renders a Vega-Lite spec (its `config` included) to an SVG document string.
 *
 * @example
 * ```ts
 * import { svgOf } from "./vega_render.ts";
 * const svg = await svgOf({
 *   data: { values: [{ x: 0, y: 1 }, { x: 1, y: 2 }] },
 *   mark: "line",
 *   encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
 * });
 * console.assert(svg.startsWith("<svg") && svg.includes("</svg>"));
 * ```
 */
export async function svgOf(spec: vl.TopLevelSpec): Promise<string> {
  loading ??= Promise.all([import("npm:vega@6.4.0"), import("npm:vega-lite@6.5.0")]);
  const [vega, vegaLite] = await loading;
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
