/**
 * The interval rules of `interval.ts` compiled to one straight-line JavaScript function per predicate: the
 * hot path of block classification evaluates it millions of times, where walking the IR tree would dominate.
 * Tests check it returns exactly what the interpreter `triOf` returns.
 */
import { type BoolExpr, type CmpOp, floorLog2, type IntExpr, pow2 } from '../ir.js';
import type { CoordBox } from './boxes.js';
import { divInterval, insetInterval, modInterval, sortedDistinct, type Tri } from './interval.js';

/** A compiled tri-state predicate over a (query box, key box) pair. */
export type BoxPredicate = (q: CoordBox, k: CoordBox) => Tri;

/** Accumulates statements and fresh names while compiling one predicate. */
class Emitter {
  readonly lines: string[] = [];
  readonly sets: number[][] = [];
  private counter = 0;

  fresh(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }
}

/** An integer node's interval as two JS expressions (variables, literals or box reads). */
interface Bounds {
  readonly lo: string;
  readonly hi: string;
}

function emitInt(e: IntExpr, m: Emitter): Bounds {
  switch (e.op) {
    case 'const':
      return { lo: `(${e.value})`, hi: `(${e.value})` };
    case 'coord':
      return { lo: `(${e.side}l[${e.axis}] ?? 0)`, hi: `(${e.side}h[${e.axis}] ?? 0)` };
    default:
      break;
  }
  const lo = m.fresh('l');
  const hi = m.fresh('h');
  const out = (l: string, h: string): void => {
    m.lines.push(`const ${lo} = ${l}, ${hi} = ${h};`);
  };
  switch (e.op) {
    case 'neg': {
      const a = emitInt(e.a, m);
      out(`-${a.hi}`, `-${a.lo}`);
      break;
    }
    case 'abs': {
      const a = emitInt(e.a, m);
      out(
        `${a.lo} >= 0 ? ${a.lo} : ${a.hi} <= 0 ? -${a.hi} : 0`,
        `${a.lo} >= 0 ? ${a.hi} : ${a.hi} <= 0 ? -${a.lo} : Math.max(-${a.lo}, ${a.hi})`,
      );
      break;
    }
    case 'log2': {
      // Monotone, as in interval.ts: bounds map to bounds (x < 1 gives 0, the IR's fallback).
      const a = emitInt(e.a, m);
      out(`floorLog2(${a.lo})`, `floorLog2(${a.hi})`);
      break;
    }
    case 'pow2': {
      const a = emitInt(e.a, m);
      out(`pow2(${a.lo})`, `pow2(${a.hi})`);
      break;
    }
    case 'select': {
      const c = emitBool(e.cond, m);
      const a = emitInt(e.a, m);
      const b = emitInt(e.b, m);
      out(
        `${c} === 1 ? ${a.lo} : ${c} === 0 ? ${b.lo} : Math.min(${a.lo}, ${b.lo})`,
        `${c} === 1 ? ${a.hi} : ${c} === 0 ? ${b.hi} : Math.max(${a.hi}, ${b.hi})`,
      );
      break;
    }
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
    case 'mod':
    case 'min':
    case 'max': {
      const a = emitInt(e.a, m);
      const b = emitInt(e.b, m);
      emitBinary(e.op, a, b, m, out, e.b.op === 'const' ? e.b.value : null);
      break;
    }
  }
  return { lo, hi };
}

function emitBinary(
  op: 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'min' | 'max',
  a: Bounds,
  b: Bounds,
  m: Emitter,
  out: (l: string, h: string) => void,
  divisor: number | null,
): void {
  switch (op) {
    case 'add':
      out(`${a.lo} + ${b.lo}`, `${a.hi} + ${b.hi}`);
      return;
    case 'sub':
      out(`${a.lo} - ${b.hi}`, `${a.hi} - ${b.lo}`);
      return;
    case 'mul': {
      const p = [m.fresh('p'), m.fresh('p'), m.fresh('p'), m.fresh('p')];
      m.lines.push(
        `const ${p[0]} = ${a.lo} * ${b.lo}, ${p[1]} = ${a.lo} * ${b.hi}, ${p[2]} = ${a.hi} * ${b.lo}, ${p[3]} = ${a.hi} * ${b.hi};`,
      );
      out(`Math.min(${p.join(', ')})`, `Math.max(${p.join(', ')})`);
      return;
    }
    case 'div':
      if (divisor !== null) {
        // Monotone in a: the bounds map to bounds (swapped for a negative divisor), as in divInterval.
        if (divisor === 0) {
          out('0', '0');
          return;
        }
        const [first, second] = divisor > 0 ? [a.lo, a.hi] : [a.hi, a.lo];
        out(`Math.floor(${first} / ${divisor})`, `Math.floor(${second} / ${divisor})`);
        return;
      }
      m.lines.push(`divInterval(${a.lo}, ${a.hi}, ${b.lo}, ${b.hi}, R);`);
      out('R[0]', 'R[1]');
      return;
    case 'mod':
      if (divisor !== null && divisor > 0) {
        // Same rule as modInterval for a positive constant: exact within one period, else [0, c - 1].
        const qa = m.fresh('q');
        const qb = m.fresh('q');
        m.lines.push(
          `const ${qa} = Math.floor(${a.lo} / ${divisor}), ${qb} = Math.floor(${a.hi} / ${divisor});`,
        );
        out(
          `${qa} === ${qb} ? ${a.lo} - ${qa} * ${divisor} : 0`,
          `${qa} === ${qb} ? ${a.hi} - ${qa} * ${divisor} : ${a.lo} >= 0 ? Math.min(${divisor - 1}, ${a.hi}) : ${divisor - 1}`,
        );
        return;
      }
      m.lines.push(`modInterval(${a.lo}, ${a.hi}, ${b.lo}, ${b.hi}, R);`);
      out('R[0]', 'R[1]');
      return;
    case 'min':
      out(`Math.min(${a.lo}, ${b.lo})`, `Math.min(${a.hi}, ${b.hi})`);
      return;
    case 'max':
      out(`Math.max(${a.lo}, ${b.lo})`, `Math.max(${a.hi}, ${b.hi})`);
      return;
  }
}

/** Inline tri-state comparison, the same rules as `compareInterval`. */
function compareSource(cmp: CmpOp, a: Bounds, b: Bounds): string {
  const point = `${a.lo} === ${a.hi} && ${b.lo} === ${b.hi} && ${a.lo} === ${b.lo}`;
  const apart = `${a.hi} < ${b.lo} || ${b.hi} < ${a.lo}`;
  switch (cmp) {
    case 'eq':
      return `${point} ? 1 : ${apart} ? 0 : 2`;
    case 'ne':
      return `${point} ? 0 : ${apart} ? 1 : 2`;
    case 'lt':
      return `${a.hi} < ${b.lo} ? 1 : ${a.lo} >= ${b.hi} ? 0 : 2`;
    case 'le':
      return `${a.hi} <= ${b.lo} ? 1 : ${a.lo} > ${b.hi} ? 0 : 2`;
    case 'gt':
      return `${a.lo} > ${b.hi} ? 1 : ${a.hi} <= ${b.lo} ? 0 : 2`;
    case 'ge':
      return `${a.lo} >= ${b.hi} ? 1 : ${a.hi} < ${b.lo} ? 0 : 2`;
  }
}

/** Emit code for a boolean node; returns the name (or literal) holding its tri-state. */
function emitBool(e: BoolExpr, m: Emitter): string {
  switch (e.op) {
    case 'bool':
      return e.value ? '1' : '0';
    case 'cmp': {
      const a = emitInt(e.a, m);
      const b = emitInt(e.b, m);
      const r = m.fresh('t');
      m.lines.push(`const ${r} = ${compareSource(e.cmp, a, b)};`);
      return r;
    }
    case 'and':
    case 'or': {
      // Kleene logic with short circuit: a decisive argument (false for and, true for or) ends the block.
      const decisive = e.op === 'and' ? 0 : 1;
      const r = m.fresh('t');
      const label = m.fresh('L');
      m.lines.push(`let ${r} = ${1 - decisive};`, `${label}: {`);
      for (const arg of e.args) {
        const t = emitBool(arg, m);
        m.lines.push(
          `if (${t} === ${decisive}) { ${r} = ${decisive}; break ${label}; }`,
          `if (${t} === 2) ${r} = 2;`,
        );
      }
      m.lines.push('}');
      return r;
    }
    case 'not': {
      const a = emitBool(e.a, m);
      const r = m.fresh('t');
      m.lines.push(`const ${r} = ${a} === 2 ? 2 : 1 - ${a};`);
      return r;
    }
    case 'segment': {
      const r = m.fresh('t');
      m.lines.push(`const ${r} = ${e.side}.segment === '${e.segment}' ? 1 : 0;`);
      return r;
    }
    case 'inset': {
      const a = emitInt(e.a, m);
      m.sets.push(sortedDistinct(e.values));
      const r = m.fresh('t');
      m.lines.push(`const ${r} = insetInterval(${a.lo}, ${a.hi}, S[${m.sets.length - 1}]);`);
      return r;
    }
  }
}

/** Compile a predicate's interval evaluation; the result equals `triOf(predicate, q, k)` on every box pair. */
export function compileBoxPredicate(predicate: BoolExpr): BoxPredicate {
  const m = new Emitter();
  const result = emitBool(predicate, m);
  const body = ['const ql = q.lo, qh = q.hi, kl = k.lo, kh = k.hi;', ...m.lines, `return ${result};`].join(
    '\n',
  );
  const make = new Function(
    'divInterval',
    'modInterval',
    'insetInterval',
    'floorLog2',
    'pow2',
    'S',
    `const R = [0, 0];\nreturn function boxPredicate(q, k) {\n${body}\n};`,
  );
  return make(divInterval, modInterval, insetInterval, floorLog2, pow2, m.sets) as BoxPredicate;
}
