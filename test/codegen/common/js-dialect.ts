/**
 * A JavaScript dialect of the neutral renderer, so the emitted decode and mask code can be executed and
 * compared with the reference semantics on the CPU, without any GPU.
 */
import type { Dialect } from '../../../codegen/common/dialect.js';
import { floorDiv, floorLog2, floorMod, pow2 } from '../../../compiler/ir.js';

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
