/**
 * The pattern predicate compiled to a plain JavaScript function of point coordinates, for the brute-force
 * oracle and for table building. `evalBool` stays the reference: tests check the compiled function against
 * it on random predicates and points.
 */
import { type BoolExpr, floorDiv, floorLog2, floorMod, type IntExpr, pow2, type Segment } from '../ir.js';

/** Numeric segment codes used by compiled functions (strings would cost a comparison per access). */
export const SEGMENT_CODE: Readonly<Record<Segment, number>> = { video: 0, text: 1 };

/** A compiled point predicate: segment codes and coordinate arrays of the query and the key. */
export type PointPredicate = (
  qSegment: number,
  q: ArrayLike<number>,
  kSegment: number,
  k: ArrayLike<number>,
) => boolean;

/** Emit a JS expression for an integer node; `sets` collects `inset` value sets. */
function intSource(e: IntExpr, sets: ReadonlySet<number>[]): string {
  switch (e.op) {
    case 'const':
      return `(${e.value})`;
    case 'coord':
      return `(${e.side}[${e.axis}] ?? 0)`;
    case 'neg':
      return `(-${intSource(e.a, sets)})`;
    case 'abs':
      return `Math.abs(${intSource(e.a, sets)})`;
    case 'log2':
      return `floorLog2(${intSource(e.a, sets)})`;
    case 'pow2':
      return `pow2(${intSource(e.a, sets)})`;
    case 'select':
      return `(${boolSource(e.cond, sets)} ? ${intSource(e.a, sets)} : ${intSource(e.b, sets)})`;
    case 'add':
      return `(${intSource(e.a, sets)} + ${intSource(e.b, sets)})`;
    case 'sub':
      return `(${intSource(e.a, sets)} - ${intSource(e.b, sets)})`;
    case 'mul':
      return `(${intSource(e.a, sets)} * ${intSource(e.b, sets)})`;
    case 'div':
      return `floorDiv(${intSource(e.a, sets)}, ${intSource(e.b, sets)})`;
    case 'mod':
      return `floorMod(${intSource(e.a, sets)}, ${intSource(e.b, sets)})`;
    case 'min':
      return `Math.min(${intSource(e.a, sets)}, ${intSource(e.b, sets)})`;
    case 'max':
      return `Math.max(${intSource(e.a, sets)}, ${intSource(e.b, sets)})`;
  }
}

/** Emit a JS expression for a boolean node. */
function boolSource(e: BoolExpr, sets: ReadonlySet<number>[]): string {
  switch (e.op) {
    case 'bool':
      return e.value ? 'true' : 'false';
    case 'cmp': {
      const op = { eq: '===', ne: '!==', lt: '<', le: '<=', gt: '>', ge: '>=' }[e.cmp];
      return `(${intSource(e.a, sets)} ${op} ${intSource(e.b, sets)})`;
    }
    case 'and':
      return e.args.length === 0 ? 'true' : `(${e.args.map((x) => boolSource(x, sets)).join(' && ')})`;
    case 'or':
      return e.args.length === 0 ? 'false' : `(${e.args.map((x) => boolSource(x, sets)).join(' || ')})`;
    case 'not':
      return `(!${boolSource(e.a, sets)})`;
    case 'segment':
      return `(${e.side}s === ${SEGMENT_CODE[e.segment]})`;
    case 'inset': {
      sets.push(new Set(e.values));
      return `sets[${sets.length - 1}].has(${intSource(e.a, sets)})`;
    }
  }
}

/** Compile a predicate to a point function with the semantics of `evalBool`. */
export function compilePredicate(predicate: BoolExpr): PointPredicate {
  const sets: ReadonlySet<number>[] = [];
  const body = `return ${boolSource(predicate, sets)};`;
  const make = new Function(
    'floorDiv',
    'floorMod',
    'floorLog2',
    'pow2',
    'sets',
    `return function predicate(qs, q, ks, k) { ${body} };`,
  );
  return make(floorDiv, floorMod, floorLog2, pow2, sets) as PointPredicate;
}
