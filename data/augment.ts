/**
 * Per-sample image augmentation on HWC float images: random horizontal flip, random shift (crop
 * with zero padding), small rotation (bilinear, zero fill) and gaussian noise. All randomness comes
 * from the {@linkcode Rng} passed in, so a batch seed reproduces it exactly.
 *
 * @module
 */

import { AnnealError } from "../errors.ts";
import { checkArgument, isObject } from "../option_names.ts";
import { closestName } from "../zod_paths.ts";
import type { Rng } from "./rng.ts";
import type { AugmentSpec } from "./spec.ts";

/** The fields of an augmentation spec, `AugmentSchema`'s (spec_test.ts checks that they agree). */
export const AUGMENT_FIELDS: readonly string[] = [
  "flip",
  "cropPadding",
  "rotateDegrees",
  "noiseStd",
];

/**
 * Throws a usage error unless `augment` is undefined or an object of augmentation's fields: an
 * unknown one (`{ flop: true }`) was ignored, the batch left unaugmented. It is named as the
 * config's unknown fields are, with the field likely meant. (A config's augment is parsed
 * already; this is for `makeBatch` called from a script.)
 *
 * @example
 * ```ts
 * import { checkAugmentFields } from "./augment.ts";
 * try {
 *   checkAugmentFields({ flop: true });
 * } catch (error) {
 *   console.assert((error as Error).message.endsWith("(did you mean 'augment.flip'?)"));
 * }
 * ```
 */
export function checkAugmentFields(augment: unknown): void {
  if (augment === undefined) return;
  const fields = AUGMENT_FIELDS.join(", ");
  checkArgument(
    isObject(augment),
    augment,
    "make a batch",
    "augment",
    `an object of ${fields}`,
    "pass e.g. { flip: true }, or undefined for no augmentation",
  );
  const unknown = Object.keys(augment as object).filter((key) => !AUGMENT_FIELDS.includes(key));
  if (unknown.length === 0) return;
  const meant = closestName(unknown[0], [...AUGMENT_FIELDS]);
  throw new AnnealError(
    "usage",
    `Cannot make a batch: unknown field${unknown.length > 1 ? "s" : ""} ${
      unknown.map((key) => `'augment.${key}'`).join(", ")
    }${meant ? ` (did you mean 'augment.${meant}'?)` : ""}`,
    {
      where: `augment.${unknown[0]}`,
      hint: `${meant ? `rename it to '${meant}'` : "remove it"}; augment's fields are ${fields}`,
    },
  );
}

/** Whether `augment` changes anything at all. */
export function augmentIsActive(augment: AugmentSpec | undefined): augment is AugmentSpec {
  return augment !== undefined &&
    (augment.flip === true || (augment.cropPadding ?? 0) > 0 ||
      (augment.rotateDegrees ?? 0) > 0 || (augment.noiseStd ?? 0) > 0);
}

/**
 * Writes an augmented copy of `source` (one image, `[height, width, channels]`) into `target`.
 * Random draws happen in a fixed order: flip, shift, angle, then one normal per value.
 *
 * @example
 * ```ts
 * import { augmentImage } from "./augment.ts";
 * import { Rng } from "./rng.ts";
 * const image = new Float32Array([1, 2, 3, 4]); // 2x2, one channel
 * const out = new Float32Array(4);
 * augmentImage(image, out, [2, 2, 1], { flip: true }, new Rng(1));
 * console.assert(out.join() === "1,2,3,4" || out.join() === "2,1,4,3");
 * ```
 */
export function augmentImage(
  source: Float32Array,
  target: Float32Array,
  shape: readonly [number, number, number],
  augment: AugmentSpec,
  rng: Rng,
): void {
  const [height, width, channels] = shape;
  const flip = augment.flip === true && rng.float() < 0.5;
  const padding = augment.cropPadding ?? 0;
  const shiftY = padding > 0 ? rng.int(2 * padding + 1) - padding : 0;
  const shiftX = padding > 0 ? rng.int(2 * padding + 1) - padding : 0;
  const degrees = augment.rotateDegrees ?? 0;
  const angle = degrees > 0 ? (rng.float() * 2 - 1) * degrees * Math.PI / 180 : 0;
  if (!flip && shiftX === 0 && shiftY === 0 && angle === 0) {
    target.set(source);
  } else {
    const cos = Math.cos(angle), sin = Math.sin(angle);
    const cy = (height - 1) / 2, cx = (width - 1) / 2;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        // Inverse map: output pixel -> point of the shifted (and flipped) image -> source point.
        let sy = y, sx = x;
        if (angle !== 0) {
          sy = cy + cos * (y - cy) - sin * (x - cx);
          sx = cx + sin * (y - cy) + cos * (x - cx);
        }
        sy += shiftY;
        sx += shiftX;
        if (flip) sx = width - 1 - sx;
        const base = (y * width + x) * channels;
        for (let c = 0; c < channels; c++) {
          target[base + c] = bilinear(source, height, width, channels, sy, sx, c);
        }
      }
    }
  }
  const noise = augment.noiseStd ?? 0;
  if (noise > 0) { for (let i = 0; i < target.length; i++) target[i] += noise * rng.normal(); }
}

function bilinear(
  image: Float32Array,
  height: number,
  width: number,
  channels: number,
  y: number,
  x: number,
  channel: number,
): number {
  const y0 = Math.floor(y), x0 = Math.floor(x);
  const fy = y - y0, fx = x - x0;
  let value = 0;
  for (let dy = 0; dy <= 1; dy++) {
    const wy = dy === 0 ? 1 - fy : fy;
    const yy = y0 + dy;
    if (wy === 0 || yy < 0 || yy >= height) continue;
    for (let dx = 0; dx <= 1; dx++) {
      const wx = dx === 0 ? 1 - fx : fx;
      const xx = x0 + dx;
      if (wx === 0 || xx < 0 || xx >= width) continue;
      value += wy * wx * image[(yy * width + xx) * channels + channel];
    }
  }
  return value;
}
