/**
 * The WGSL dialect of the neutral renderer, and the prelude that gives the IR's integer helpers their
 * semantics in WGSL. `min`, `max` and `abs` are WGSL built-ins for `i32`; only floor division and floor
 * modulo need code, because WGSL's `/` and `%` truncate (and dividing by zero is not an error but undefined
 * enough that we never rely on it).
 */
import type { Dialect } from '../common/dialect.js';

/** WGSL spellings: `i32`, `let`/`var`, `select(false_value, true_value, cond)`, struct constructors. */
export const WGSL_DIALECT: Dialect = {
  name: 'wgsl',
  intType: 'i32',
  boolType: 'bool',
  // Parenthesised so `a - -3` and unary positions stay well formed; `i` pins the type to i32.
  intLiteral: (v) => (v < 0 ? `(${v}i)` : `${v}i`),
  intDiv: (a, b) => `(${a} / ${b})`,
  select: (c, a, b) => `select(${b}, ${a}, ${c})`,
  declare: (name, type, init, mutable) => `${mutable ? 'var' : 'let'} ${name}: ${type} = ${init};`,
  functionHeader: (name, params, ret) =>
    `fn ${name}(${params.map((p) => `${p.name}: ${p.type}`).join(', ')}) -> ${ret} {`,
  struct: (name, fields) => `struct ${name} {\n${fields.map((f) => `  ${f}: i32,`).join('\n')}\n}`,
  structValue: (name, values) => `${name}(${values.join(', ')})`,
};

/**
 * Floor division and floor modulo with the IR's rules (compiler/ir.ts): results round toward minus infinity,
 * and a zero divisor gives 0. The divisor is replaced by 1 before dividing so no lane ever divides by zero.
 */
export const WGSL_PRELUDE = `// Floor division: rounds toward -infinity; dividing by zero gives 0 (pattern IR semantics).
fn tp_floordiv(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  let q = a / b;
  let r = a - q * b;
  return select(q, q - 1i, r != 0i && ((r < 0i) != (b < 0i)));
}

// Floor modulo: the result has the divisor's sign; modulo zero gives 0 (pattern IR semantics).
fn tp_floormod(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  let r = a - (a / b) * b;
  return select(r, r + b, r != 0i && ((r < 0i) != (b < 0i)));
}`;

/** `log2` (floor) and `pow2` with the IR's rules; added only for patterns that use them. */
export const WGSL_POWER_PRELUDE = `// Floor of log2(x); x < 1 gives 0 (pattern IR semantics).
fn tp_log2(x: i32) -> i32 {
  return select(i32(firstLeadingBit(x)), 0i, x < 1i);
}

// 2^x; x < 0 gives 0 (pattern IR semantics; lowering keeps x below 31).
fn tp_pow2(x: i32) -> i32 {
  return select(1i << u32(max(x, 0i)), 0i, x < 0i);
}`;
