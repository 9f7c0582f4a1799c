/**
 * Binding a layout's sizes and building the concrete layout. Every video axis size and the text length come
 * from the compile options unless a `size` item gives a default; sizes, tile extents and pad multiples must be
 * positive integers, and the whole sequence must fit in 32 bits.
 */
import type { Expr, LayoutDecl } from '../../dsl/ast.js';
import { type Diagnostic, TesseraError } from '../../dsl/diagnostics.js';
import type { SourceRange } from '../../dsl/source.js';
import { closestName } from '../check/suggest.js';
import { type ConcreteLayout, type LayoutSpec, makeLayout } from '../layout.js';
import { Env, intValue } from './env.js';
import type { Lowerer } from './lower-expr.js';
import { isInt32, optionError } from './options-errors.js';

/** A layout with its sizes bound. */
export interface BoundLayout {
  readonly layout: ConcreteLayout;
  /** Every size name of the layout and its value (axes, text length, `size` items). */
  readonly sizes: Readonly<Record<string, number>>;
}

const MAX_TOKENS = 2 ** 31 - 1;

function sizeNamesOf(decl: LayoutDecl): {
  names: string[];
  defaults: Map<string, Expr>;
  textAxis: string | null;
} {
  const names = decl.axes.map((a) => a.name);
  const defaults = new Map<string, Expr>();
  let textAxis: string | null = null;
  for (const item of decl.items) {
    if (item.kind === 'TextItem' && textAxis === null) {
      textAxis = item.axis.name;
      names.push(textAxis);
    }
    if (item.kind === 'SizeItem') {
      for (const s of item.sizes) {
        if (!names.includes(s.name.name)) names.push(s.name.name);
        if (!defaults.has(s.name.name)) defaults.set(s.name.name, s.defaultValue);
      }
    }
  }
  return { names, defaults, textAxis };
}

/** Bind the sizes of `decl` and build its concrete layout; all problems are reported at once. */
export function bindLayout(
  decl: LayoutDecl,
  given: Readonly<Record<string, number>>,
  fileName: string,
  lowerer: Lowerer,
): BoundLayout {
  const diagnostics: Diagnostic[] = [];
  const { names, defaults, textAxis } = sizeNamesOf(decl);
  const list = names.map((n) => `\`${n}\``).join(', ');
  for (const key of Object.keys(given)) {
    if (names.includes(key)) continue;
    const close = closestName(key, names);
    diagnostics.push(
      optionError(
        fileName,
        'TP305',
        decl.name.range,
        `layout \`${decl.name.name}\` has no size \`${key}\``,
        `${close ? `did you mean \`${close}\`? ` : ''}its sizes: ${list}`,
      ),
    );
  }
  const env = new Env(null);
  const sizes: Record<string, number> = {};
  const positive = (value: unknown, range: SourceRange, what: string): value is number => {
    if (isInt32(value) && value > 0) return true;
    diagnostics.push(
      optionError(
        fileName,
        'TP307',
        range,
        `${what} must be a positive integer, got ${JSON.stringify(value)}`,
      ),
    );
    return false;
  };
  const constant = (e: Expr): number | null => {
    try {
      const v = lowerer.int(e, env);
      if (v.op === 'const') return v.value;
      diagnostics.push(optionError(fileName, 'TP217', e.range, 'a layout value must be a constant'));
    } catch (error) {
      if (!(error instanceof TesseraError)) throw error;
      diagnostics.push(...error.diagnostics);
    }
    return null;
  };

  for (const name of names) {
    const defaultExpr = defaults.get(name);
    let value: number | null = null;
    if (Object.hasOwn(given, name)) {
      if (positive(given[name], decl.name.range, `size \`${name}\` of layout \`${decl.name.name}\``))
        value = given[name]!;
    } else if (defaultExpr) {
      const v = constant(defaultExpr);
      if (v !== null && positive(v, defaultExpr.range, `the default of size \`${name}\``)) value = v;
    } else {
      const example = names
        .filter((n) => !defaults.has(n))
        .map((n) => `${n}=8`)
        .join(',');
      diagnostics.push(
        optionError(
          fileName,
          'TP306',
          decl.name.range,
          `layout \`${decl.name.name}\` needs a value for size \`${name}\``,
          `give every size without a default, e.g. \`--layout ${example}\``,
        ),
      );
    }
    if (value !== null) {
      sizes[name] = value;
      env.set(name, { kind: 'value', value: intValue({ op: 'const', value }) });
    }
  }
  if (diagnostics.length > 0) throw new TesseraError(diagnostics);

  let tile: number[] | null = null;
  let unitPad = 1;
  let textPad = 1;
  for (const item of decl.items) {
    if (item.kind === 'TilesItem' && tile === null) {
      tile = item.extents.map((e) => {
        const v = constant(e);
        return v !== null && positive(v, e.range, 'a tile extent') ? v : 1;
      });
    }
    if (item.kind === 'PadItem') {
      const v = constant(item.multiple);
      if (v === null || !positive(v, item.multiple.range, 'a pad multiple')) continue;
      if (item.unit === 'text') textPad = v;
      else unitPad = v;
    }
  }
  if (diagnostics.length > 0) throw new TesseraError(diagnostics);

  const spec: LayoutSpec = {
    name: decl.name.name,
    videoAxes: decl.axes.map((a) => a.name),
    videoSizes: decl.axes.map((a) => sizes[a.name]!),
    tile,
    unitPad,
    text:
      textAxis === null
        ? null
        : { axis: textAxis, length: sizes[textAxis]!, position: textPosition(decl), pad: textPad },
  };
  // Check the token count before building, so no derived size is computed from overflowing products.
  const unitTokens = (tile ?? spec.videoSizes.map((s, i) => (i === 0 ? 1 : s))).reduce((a, b) => a * b, 1);
  const units = spec.videoSizes.reduce(
    (acc, s, i) => acc * Math.ceil(s / (tile?.[i] ?? (i === 0 ? 1 : s))),
    1,
  );
  const total =
    units * Math.ceil(unitTokens / unitPad) * unitPad +
    (spec.text ? Math.ceil(spec.text.length / textPad) * textPad : 0);
  if (total > MAX_TOKENS) {
    throw new TesseraError([
      optionError(
        fileName,
        'TP307',
        decl.name.range,
        `layout \`${decl.name.name}\` would hold ${total} tokens, more than 2^31 - 1`,
        'use smaller sizes',
      ),
    ]);
  }
  return { layout: makeLayout(spec), sizes };
}

function textPosition(decl: LayoutDecl): 'before' | 'after' {
  const item = decl.items.find((i) => i.kind === 'TextItem');
  return item?.kind === 'TextItem' ? item.position : 'after';
}
