/**
 * The TypeScript dialect of the neutral renderer: the typed binding of a compiled pattern carries its own
 * element mask, so a TypeScript user can ask `allowed(q, k)` without the compiler.
 */
import type { Dialect } from '../common/dialect.js';

/** TypeScript spellings; integers are `number` and truncating division is `Math.trunc`. */
export function typescriptDialect(fieldNames: readonly string[]): Dialect {
  return {
    name: 'typescript',
    intType: 'number',
    boolType: 'boolean',
    intLiteral: (v) => (v < 0 ? `(${v})` : String(v)),
    intDiv: (a, b) => `Math.trunc(${a} / ${b})`,
    select: (c, a, b) => `(${c} ? ${a} : ${b})`,
    declare: (name, type, init, mutable) => `${mutable ? 'let' : 'const'} ${name}: ${type} = ${init};`,
    functionHeader: (name, params, ret) =>
      `export function ${name}(${params.map((p) => `${p.name}: ${p.type}`).join(', ')}): ${ret} {`,
    struct: (name, fields) =>
      `export interface ${name} {\n${fields.map((f) => `  readonly ${f}: number;`).join('\n')}\n}`,
    structValue: (_name, values) => `{ ${values.map((v, i) => `${fieldNames[i]}: ${v}`).join(', ')} }`,
  };
}

/** Helper functions the rendered expressions call, with the IR's integer semantics. */
export const TYPESCRIPT_PRELUDE = `const { min, max, abs } = Math;

/** Floor division; dividing by zero gives 0 (the pattern IR's rule). */
function tp_floordiv(a: number, b: number): number {
  return b === 0 ? 0 : Math.floor(a / b);
}

/** Floor modulo; modulo zero gives 0 (the pattern IR's rule). */
function tp_floormod(a: number, b: number): number {
  return b === 0 ? 0 : a - b * Math.floor(a / b);
}`;

/** `log2` (floor) and `pow2` with the IR's semantics; added only for patterns that use them. */
export const TYPESCRIPT_POWER_HELPERS = `/** Floor of log2(x); x < 1 gives 0 (the pattern IR's rule). */
function tp_log2(x: number): number {
  return x < 1 ? 0 : 31 - Math.clz32(x);
}

/** 2^x; x < 0 gives 0 (the pattern IR's rule). */
function tp_pow2(x: number): number {
  return x < 0 ? 0 : 2 ** x;
}`;
