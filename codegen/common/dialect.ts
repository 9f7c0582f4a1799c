/**
 * What a C-like target adds to the neutral renderer: spellings of types, declarations and the few built-ins
 * whose syntax differs. Expressions, statements, loops and indexing are emitted once (`render-expr.ts`,
 * `render-mask.ts`); `cuda/` and `wgsl/` each supply one of these tables and never extend each other.
 */
export interface Dialect {
  /** Target name, used in comments and error messages. */
  readonly name: string;
  /** The 32-bit signed integer type (`int`, `i32`). */
  readonly intType: string;
  /** The boolean type (`bool`). */
  readonly boolType: string;
  /** An integer literal; targets differ on how negative or typed literals are spelled. */
  intLiteral(value: number): string;
  /**
   * Truncating division of two non-negative integers (`a / b` in C and WGSL). The operands are atoms
   * (identifiers, literals or parenthesised text); the result binds like a product.
   */
  intDiv(a: string, b: string): string;
  /** `c ? a : b` in this target (WGSL has `select(b, a, c)` instead). */
  select(cond: string, a: string, b: string): string;
  /** A local declaration: `const int x = e;` / `let x: i32 = e;` (or mutable `var`). */
  declare(name: string, type: string, init: string, mutable: boolean): string;
  /** A function header up to and including `{`. */
  functionHeader(name: string, params: readonly { name: string; type: string }[], returnType: string): string;
  /**
   * Compile-time integer parameters of a function (CUDA: `template <int kTileK>` before its header) and the
   * arguments a call passes for them (`<kTileK>`). Targets without templates leave both out: they read such
   * names from the enclosing scope.
   */
  templateParams?(names: readonly string[]): string;
  templateArgs?(names: readonly string[]): string;
  /** A struct declaration with integer fields. */
  struct(name: string, fields: readonly string[]): string;
  /** A value of the struct type built from field values in order. */
  structValue(name: string, values: readonly string[]): string;
  /** Boolean operators and literals, when they are not C's (`&&`, `||`, `!`, `true`, `false`). */
  readonly logic?: Logic;
  /** Names of the integer helpers, when they are not {@link INT_HELPERS}' (e.g. methods of an ops object). */
  readonly helpers?: Partial<Record<keyof typeof INT_HELPERS, string>>;
}

/** How a dialect spells boolean logic. */
export interface Logic {
  readonly and: string;
  readonly or: string;
  not(operand: string): string;
  readonly true: string;
  readonly false: string;
}

/** C's logic, shared by the CUDA, WGSL and TypeScript dialects. */
export const C_LOGIC: Logic = {
  and: ' && ',
  or: ' || ',
  not: (x) => `(!${x})`,
  true: 'true',
  false: 'false',
};

/**
 * Names of the integer helpers every target's prelude defines with the IR's semantics (floor division and
 * floor modulo, dividing by zero gives 0). They live in one header per target, not inline in each kernel.
 */
export const INT_HELPERS = {
  floorDiv: 'tp_floordiv',
  floorMod: 'tp_floormod',
  min: 'min',
  max: 'max',
  abs: 'abs',
  log2: 'tp_log2',
  pow2: 'tp_pow2',
} as const;

/**
 * Whether rendered mask text calls the power-of-two helpers (`log2`, `pow2`). Targets add their definitions
 * only then, so the files generated for patterns without them stay exactly as they were.
 */
export function callsPowerHelpers(maskText: string): boolean {
  return maskText.includes(`${INT_HELPERS.log2}(`) || maskText.includes(`${INT_HELPERS.pow2}(`);
}
