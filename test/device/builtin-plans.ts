/**
 * Block plans of the built-in patterns (`patterns/*.tile`) through the real pipeline: the front end
 * (`compileSource`) and the plan builder (`buildPlan`). A layout may be padded (`pad frame to N` added to the
 * file's layout) to reach layouts the library's defaults do not, e.g. frames aligned to the block size.
 */
import { readFileSync } from 'node:fs';
import { compileSource } from '../../compiler/frontend.js';
import type { PatternInstance } from '../../compiler/ir.js';
import { buildPlan } from '../../compiler/plan/build.js';
import type { BlockPlan } from '../../compiler/plan/plan.js';
import { findBuiltinPattern } from '../../patterns/index.js';

/** Sizes, parameters and padding of one instance (defaults: the library's). */
export interface BuiltinInstance {
  readonly sizes?: Readonly<Record<string, number>>;
  readonly params?: Readonly<Record<string, number | boolean>>;
  /** Pad every frame (every tile on tiled layouts) to a multiple of this many tokens. */
  readonly padUnit?: number;
}

/** The source text of built-in pattern `name`, with a `pad` line added to its layout when asked. */
export function builtinSource(name: string, padUnit?: number): { name: string; text: string } {
  const entry = findBuiltinPattern(name);
  if (!entry) throw new Error(`no built-in pattern '${name}'`);
  let text = readFileSync(entry.file, 'utf8');
  if (padUnit !== undefined) {
    const unit = text.includes('tiles(') ? 'tile' : 'frame';
    const header = /^(layout \w+\([^)]*\))( \{)?$/m;
    if (!header.test(text)) throw new Error(`${entry.file}: no layout header to pad`);
    text = text.replace(header, (_, head: string, brace?: string) =>
      brace ? `${head} {\n  pad ${unit} to ${padUnit}` : `${head} {\n  pad ${unit} to ${padUnit}\n}`,
    );
  }
  return { name: entry.file, text };
}

/** The pattern instance of a built-in at the given (or default) sizes and parameters. */
export function builtinPattern(name: string, instance: BuiltinInstance = {}): PatternInstance {
  const entry = findBuiltinPattern(name)!;
  return compileSource(builtinSource(name, instance.padUnit), {
    sizes: instance.sizes ?? entry.defaultSizes,
    params: instance.params ?? entry.defaultParams,
  });
}

/** The plan of a built-in at block sizes `blockQ x blockK`. */
export function builtinPlan(
  name: string,
  instance: BuiltinInstance,
  blockQ: number,
  blockK = blockQ,
): BlockPlan {
  return buildPlan(builtinPattern(name, instance), blockQ, blockK);
}
