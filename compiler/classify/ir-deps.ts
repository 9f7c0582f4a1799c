/** Which coordinates a predicate reads: the fast classification paths key on it. */
import type { BoolExpr, IntExpr } from '../ir.js';

/** The set of coordinate axes read anywhere in the predicate (either side). */
export function axesRead(predicate: BoolExpr): Set<number> {
  const axes = new Set<number>();
  const visitInt = (e: IntExpr): void => {
    switch (e.op) {
      case 'const':
        return;
      case 'coord':
        axes.add(e.axis);
        return;
      case 'neg':
      case 'abs':
      case 'log2':
      case 'pow2':
        visitInt(e.a);
        return;
      case 'select':
        visitBool(e.cond);
        visitInt(e.a);
        visitInt(e.b);
        return;
      default:
        visitInt(e.a);
        visitInt(e.b);
        return;
    }
  };
  const visitBool = (e: BoolExpr): void => {
    switch (e.op) {
      case 'bool':
      case 'segment':
        return;
      case 'cmp':
        visitInt(e.a);
        visitInt(e.b);
        return;
      case 'and':
      case 'or':
        e.args.forEach(visitBool);
        return;
      case 'not':
        visitBool(e.a);
        return;
      case 'inset':
        visitInt(e.a);
        return;
    }
  };
  visitBool(predicate);
  return axes;
}

/** True when the predicate reads no coordinate other than the frame axis (axis 0): segment tests are free. */
export function readsOnlyFrameAxis(predicate: BoolExpr): boolean {
  for (const axis of axesRead(predicate)) if (axis !== 0) return false;
  return true;
}
