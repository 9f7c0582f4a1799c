/**
 * A JavaScript dialect of the neutral renderer, so the emitted decode and mask code can be executed and
 * compared with the reference semantics on the CPU, without any GPU.
 */
import type { Dialect } from '../../../codegen/common/dialect.js';
import { MASK_SYMBOLS, renderMaskFunctions } from '../../../codegen/common/render-mask.js';
import { floorDiv, floorLog2, floorMod, type PatternInstance, pow2 } from '../../../compiler/ir.js';

/** Renders like C, but with JavaScript declarations and object literals for structs. */
export function jsDialect(fieldNames: readonly string[]): Dialect {
  return {
    name: 'js',
    intType: 'number',
    boolType: 'boolean',
    intLiteral: (v) => (v < 0 ? `(${v})` : String(v)),
    intDiv: (a, b) => `Math.trunc(${a} / ${b})`,
    select: (c, a, b) => `(${c} ? ${a} : ${b})`,
    declare: (name, _type, init, mutable) => `${mutable ? 'let' : 'const'} ${name} = ${init};`,
    functionHeader: (name, params) => `function ${name}(${params.map((p) => p.name).join(', ')}) {`,
    struct: (name) => `// struct ${name}`,
    structValue: (_name, values) => `({ ${values.map((v, i) => `${fieldNames[i]}: ${v}`).join(', ')} })`,
  };
}

/** The prelude that gives the helper names the IR's semantics in JavaScript. */
export const JS_PRELUDE = {
  tp_floordiv: floorDiv,
  tp_floormod: floorMod,
  min: Math.min,
  max: Math.max,
  abs: Math.abs,
  tp_log2: floorLog2,
  tp_pow2: pow2,
};

/** The decode and mask functions the neutral renderer emits, loaded as JavaScript. */
export interface EmittedMask {
  decode(i: number): { seg: number; [c: string]: number };
  allowed(q: object, k: object): boolean;
}

/** Render `pattern`'s decode and mask functions in the JavaScript dialect and load them. */
export function emitAndLoad(pattern: PatternInstance): EmittedMask {
  const fields = ['seg', ...pattern.layout.axisNames.map((_, i) => `c${i}`)];
  const source = renderMaskFunctions(pattern, jsDialect(fields));
  const names = Object.keys(JS_PRELUDE);
  const body = `${source}\nreturn { decode: ${MASK_SYMBOLS.decode}, allowed: ${MASK_SYMBOLS.allowed} };`;
  return new Function(...names, body)(...Object.values(JS_PRELUDE)) as EmittedMask;
}
