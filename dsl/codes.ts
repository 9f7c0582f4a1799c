/**
 * The registry of every diagnostic code. Codes are stable (tools, tests and users match on them), so a code
 * is never reused for another problem; `Diagnostic.code` only accepts a key of {@link CODES}, so a new code
 * is added here first. Families: TP1xx syntax, TP2xx names and types, TP3xx analysis and parameters, TP4xx
 * code generation (and the runtime's reports on generated code).
 */

/** The stage that reports a code; the code's hundred follows from it (see {@link CODES}). */
export type DiagnosticStage = 'parse' | 'check' | 'lower' | 'classify' | 'plan' | 'codegen' | 'runtime';

/** What the registry says about one code. */
export interface CodeInfo {
  /** A short kebab-case name, unique across codes. */
  readonly name: string;
  readonly stage: DiagnosticStage;
  /** One line: what the user got wrong (or, for the few internal codes, what went wrong). */
  readonly summary: string;
}

/**
 * Every diagnostic code of tessera, by code. TP401 to TP404 mean related but different things for the CUDA
 * and WGSL kernels (each backend numbered its own option checks); the summaries give both.
 */
export const CODES = {
  TP100: {
    name: 'internal-parser-error',
    stage: 'parse',
    summary:
      'the parser crashed on this input; a bug in tessera, reported as a diagnostic so callers never crash',
  },
  TP101: {
    name: 'unexpected-character',
    stage: 'parse',
    summary: 'characters that no token of the language matches',
  },
  TP102: { name: 'unclosed-comment', stage: 'parse', summary: 'a block comment `/*` is never closed' },
  TP103: { name: 'unclosed-string', stage: 'parse', summary: 'a string is not closed on the line it opens' },
  TP104: {
    name: 'integer-too-large',
    stage: 'parse',
    summary: 'an integer literal is 2^53 or more, beyond what can be represented exactly',
  },
  TP105: {
    name: 'syntax-error',
    stage: 'parse',
    summary: 'the parser expected something else at this token',
  },
  TP106: { name: 'unclosed-bracket', stage: 'parse', summary: 'a `(` or `{` is never closed' },
  TP107: {
    name: 'assignment-in-expression',
    stage: 'parse',
    summary: '`=` where an expression goes; a comparison is written `==`',
  },
  TP108: { name: 'chained-comparison', stage: 'parse', summary: 'comparisons and `in` tests do not chain' },
  TP109: {
    name: 'coordinate-of-non-token',
    stage: 'parse',
    summary: 'a coordinate (`x.t`) read from a name other than the tokens `q` and `k`',
  },
  TP110: {
    name: 'malformed-in-test',
    stage: 'parse',
    summary:
      '`in` not followed by a range, a set or a segment, or a segment tested on something other than `q`/`k`',
  },
  TP111: { name: 'unknown-type', stage: 'parse', summary: 'a type annotation other than `int` or `bool`' },
  TP112: {
    name: 'bad-text-position',
    stage: 'parse',
    summary: '`text(l)` followed by something other than `before` or `after`',
  },
  TP113: {
    name: 'bad-pad-unit',
    stage: 'parse',
    summary: '`pad` followed by something other than `frame`, `tile` or `text`',
  },
  TP114: {
    name: 'nesting-too-deep',
    stage: 'parse',
    summary: 'an expression nested more deeply than the compiler accepts (MAX_NESTING)',
  },
  TP115: {
    name: 'binary-input',
    stage: 'parse',
    summary: 'the file is not text (it holds NUL bytes): a binary file or the wrong path',
  },

  TP201: {
    name: 'duplicate-name',
    stage: 'check',
    summary: 'a name, layout, pattern or size default declared twice; names cannot be shadowed',
  },
  TP202: {
    name: 'unknown-name',
    stage: 'check',
    summary: 'a name that is not declared, or a helper used as a value',
  },
  TP203: {
    name: 'unknown-function',
    stage: 'check',
    summary: 'a call to a function that is neither built in nor declared',
  },
  TP204: {
    name: 'unknown-layout',
    stage: 'check',
    summary: 'a pattern is declared on a layout the file does not declare',
  },
  TP205: {
    name: 'wrong-argument-count',
    stage: 'check',
    summary: 'a call with more or fewer arguments than the function takes',
  },
  TP206: {
    name: 'type-mismatch',
    stage: 'check',
    summary: 'an `int` where a `bool` is expected, or the other way round',
  },
  TP207: {
    name: 'condition-not-bool',
    stage: 'check',
    summary: 'the condition of `if`, `attend`, `deny` or `require` is not a `bool`',
  },
  TP208: {
    name: 'if-branch-types-differ',
    stage: 'check',
    summary: 'the two branches of `if` have different types',
  },
  TP209: { name: 'recursive-definition', stage: 'check', summary: 'a `let` or helper depends on itself' },
  TP210: {
    name: 'non-constant-default',
    stage: 'check',
    summary: 'a parameter default reads a name, a token or a helper instead of being a constant',
  },
  TP211: {
    name: 'unknown-axis',
    stage: 'check',
    summary: 'a coordinate names an axis the layout does not have',
  },
  TP212: {
    name: 'no-text-segment',
    stage: 'check',
    summary: '`in text` on a layout that has no text segment',
  },
  TP213: {
    name: 'pattern-without-attend',
    stage: 'check',
    summary: 'a pattern has no `attend` rule, so it allows nothing',
  },
  TP214: { name: 'reserved-name', stage: 'check', summary: 'a declaration of `q`, `k`, `video` or `text`' },
  TP215: {
    name: 'require-reads-tokens',
    stage: 'check',
    summary: 'a `require` condition reads the tokens `q` and `k`; it is evaluated once, at compile time',
  },
  TP216: {
    name: 'malformed-layout',
    stage: 'check',
    summary:
      'a layout without video axes, or a repeated, mismatched or inconsistent `text`, `tiles` or `pad` item',
  },
  TP217: {
    name: 'non-constant-layout-value',
    stage: 'check',
    summary: 'a layout value reads the tokens or is otherwise not a constant',
  },

  TP301: {
    name: 'pattern-not-selected',
    stage: 'lower',
    summary:
      'the requested pattern is not in the file, the file has none, or it has several and none was chosen',
  },
  TP302: {
    name: 'unknown-parameter',
    stage: 'lower',
    summary: 'a parameter override names a parameter the pattern lacks',
  },
  TP303: {
    name: 'bad-parameter-value',
    stage: 'lower',
    summary: 'a parameter override of the wrong type, or an integer outside the signed 32-bit range',
  },
  TP304: {
    name: 'missing-parameter',
    stage: 'lower',
    summary: 'a parameter without a default was not given a value',
  },
  TP305: {
    name: 'unknown-size',
    stage: 'lower',
    summary: 'a layout size was given that the layout does not declare',
  },
  TP306: {
    name: 'missing-size',
    stage: 'lower',
    summary: 'a layout size without a default was not given a value',
  },
  TP307: {
    name: 'bad-layout-size',
    stage: 'lower',
    summary:
      'a size, tile extent or pad multiple is not a positive integer, or the layout exceeds 2^31 - 1 tokens',
  },
  TP308: {
    name: 'requirement-failed',
    stage: 'lower',
    summary: "a `require` is false for these parameters and sizes; the message is the pattern author's",
  },
  TP309: {
    name: 'division-by-zero',
    stage: 'lower',
    summary: 'a divisor that is always 0 with these parameters and sizes',
  },
  TP310: {
    name: 'int32-overflow',
    stage: 'lower',
    summary: 'an expression can produce a value outside the signed 32-bit range the kernels compute in',
  },
  TP311: {
    name: 'axis-not-in-layout',
    stage: 'lower',
    summary: 'a helper reads an axis that the layout of the pattern being compiled does not have',
  },
  TP312: {
    name: 'bad-block-size',
    stage: 'plan',
    summary: 'a block size (blockQ, blockK) that is not a positive integer',
  },
  TP313: {
    name: 'too-many-block-pairs',
    stage: 'classify',
    summary: 'the layout has more block pairs than a block plan holds (MAX_BLOCK_PAIRS); use larger blocks',
  },
  TP314: {
    name: 'pattern-too-deep',
    stage: 'lower',
    summary: 'helpers (`let`, `fn`) or rules chain so deeply that analysing the pattern exhausts the stack',
  },
  TP319: {
    name: 'missing-head',
    stage: 'lower',
    summary:
      'a pattern reads `head` but was compiled without a head (it is compiled per head, from a layer plan)',
  },
  TP315: {
    name: 'divisor-may-be-zero',
    stage: 'lower',
    summary: 'warning: a divisor whose range over the layout includes 0; `x / 0` and `x % 0` evaluate to 0',
  },
  TP316: {
    name: 'negation-of-unknown',
    stage: 'lower',
    summary:
      'note: `!` of a condition that reads an axis some tokens lack; it stays unknown there (three-valued logic)',
  },
  TP317: {
    name: 'log2-domain',
    stage: 'lower',
    summary: '`log2(x)` where x can be 0 or negative somewhere on the layout (log2 is defined for x >= 1)',
  },
  TP318: {
    name: 'pow2-domain',
    stage: 'lower',
    summary:
      '`pow2(x)` where x can be negative or above 30 somewhere on the layout (2^x must fit in 32 bits)',
  },

  TP401: {
    name: 'unsupported-kernel-shape',
    stage: 'codegen',
    summary: 'CUDA: blockQ other than 64 or 128; WGSL: a head dim that is not a multiple of 8 from 32 to 128',
  },
  TP402: {
    name: 'unsupported-key-walk',
    stage: 'codegen',
    summary:
      'CUDA: blockK not a multiple of the key tile; WGSL: closed-form enumeration of a plan that has none',
  },
  TP403: {
    name: 'kernel-dimension-out-of-range',
    stage: 'codegen',
    summary:
      'CUDA: a head dim other than 64, 96, 128; WGSL: blockQ needs more invocations than a workgroup allows',
  },
  TP404: {
    name: 'unsupported-kernel-storage',
    stage: 'codegen',
    summary:
      'CUDA: an element type other than bfloat16 or float16; WGSL: a key tile does not fit workgroup memory',
  },
  TP405: {
    name: 'closed-form-mismatch',
    stage: 'codegen',
    summary:
      "the plan's closed form disagrees with its block tables; a compiler bug, refused rather than rendered",
  },
  TP406: {
    name: 'wgsl-compile-failed',
    stage: 'runtime',
    summary: 'the WebGPU device rejected the generated WGSL; the diagnostic points at the WGSL line',
  },
  TP407: {
    name: 'wgsl-pipeline-rejected',
    stage: 'runtime',
    summary: 'WebGPU rejected the compute pipeline, e.g. for a device limit the kernel needs',
  },
  TP408: {
    name: 'loop-budget-exceeded',
    stage: 'codegen',
    summary:
      "one key block needs more loop passes per invocation than the device's loop budget (Mesa llvmpipe)",
  },
  TP409: {
    name: 'shared-memory-exceeded',
    stage: 'codegen',
    summary: "the CUDA wgmma kernel's tiles need more shared memory than sm_90 allows",
  },
  TP410: {
    name: 'nvcc-failed',
    stage: 'codegen',
    summary: 'nvcc was not found, or it failed on a generated `.cu` file',
  },
} as const satisfies Record<`TP${number}`, CodeInfo>;

/** A registered diagnostic code, e.g. `'TP201'`; any other string is a type error. */
export type DiagnosticCode = keyof typeof CODES;
