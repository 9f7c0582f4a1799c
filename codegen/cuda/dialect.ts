/**
 * The CUDA C++ spelling of the neutral C-like renderer: device functions, `int`/`bool`, aggregate structs.
 * Everything else (expressions, the decode arithmetic, the mask predicate) comes from `codegen/common`.
 */
import type { Dialect } from '../common/dialect.js';

/** The CUDA dialect: every emitted function is an inlined `__device__` function. */
export const cudaDialect: Dialect = {
  name: 'cuda',
  intType: 'int',
  boolType: 'bool',
  // INT_MIN has no literal spelling in C (the minus applies to an out-of-range positive literal).
  intLiteral: (v) => (v === -2147483648 ? '(-2147483647 - 1)' : v < 0 ? `(${v})` : String(v)),
  intDiv: (a, b) => `${a} / ${b}`,
  select: (c, a, b) => `(${c} ? ${a} : ${b})`,
  declare: (name, type, init, mutable) => `${mutable ? '' : 'const '}${type} ${name} = ${init};`,
  functionHeader: (name, params, returnType) =>
    `__device__ __forceinline__ ${returnType} ${name}(${params.map((p) => `${p.type} ${p.name}`).join(', ')}) {`,
  templateParams: (names) => `template <${names.map((n) => `int ${n}`).join(', ')}>`,
  templateArgs: (names) => `<${names.join(', ')}>`,
  struct: (name, fields) => `struct ${name} { ${fields.map((f) => `int ${f};`).join(' ')} };`,
  structValue: (name, values) => `${name}{${values.join(', ')}}`,
};
