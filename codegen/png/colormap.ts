/**
 * Colours of the pictures: linear mixing, viridis (van der Walt & Smith, matplotlib's default: a perceptually
 * uniform colour map from dark purple to yellow that stays ordered in grayscale and for the common colour-vision
 * deficiencies; eleven of its samples, interpolated linearly, close to the full table at the resolution of a
 * report picture) and relative luminance.
 */
import type { Rgb } from './scene.js';

/** `a` to `b` by `t` in 0..1. */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(a[i]! + (b[i]! - a[i]!) * t)) as unknown as Rgb;
}

const VIRIDIS: readonly Rgb[] = [
  [0x44, 0x01, 0x54],
  [0x48, 0x24, 0x75],
  [0x41, 0x44, 0x87],
  [0x35, 0x5f, 0x8d],
  [0x2a, 0x78, 0x8e],
  [0x21, 0x91, 0x8c],
  [0x22, 0xa8, 0x84],
  [0x44, 0xbf, 0x70],
  [0x7a, 0xd1, 0x51],
  [0xbd, 0xdf, 0x26],
  [0xfd, 0xe7, 0x25],
];

/** The colour at `t` in [0, 1] (clamped; NaN gives the low end). */
export function viridis(t: number): Rgb {
  const x = Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  return mix(VIRIDIS[i]!, VIRIDIS[i + 1]!, x - i);
}

/** Relative luminance (sRGB, 0..1): dark cells get light text. */
export function luminance([r, g, b]: Rgb): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}
