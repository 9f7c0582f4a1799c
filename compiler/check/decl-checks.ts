/** Checks of declarations and statements, keyed by node kind. */
import type {
  AttendRule,
  DenyRule,
  FnDecl,
  LayoutDecl,
  LetDecl,
  PatternDecl,
  PatternParam,
  RequireStmt,
} from '../../dsl/ast.js';
import { type CheckContext, expectType } from './context.js';
import { unknownNameHint } from './suggest.js';

interface DeclNodes {
  LetDecl: LetDecl;
  FnDecl: FnDecl;
  PatternParam: PatternParam;
  AttendRule: AttendRule;
  DenyRule: DenyRule;
  RequireStmt: RequireStmt;
  PatternDecl: PatternDecl;
  LayoutDecl: LayoutDecl;
}

type DeclChecks = { readonly [K in keyof DeclNodes]: (node: DeclNodes[K], ctx: CheckContext) => void };

function checkLet(d: LetDecl, ctx: CheckContext): void {
  if (d.type) expectType(d.value, d.type.name, ctx, 'TP206', `the value of \`${d.name.name}\``);
}

function checkFn(d: FnDecl, ctx: CheckContext): void {
  // `ctx.scope` is the helper's body scope here.
  if (d.returnType) expectType(d.body, d.returnType.name, ctx, 'TP206', `the body of \`${d.name.name}\``);
}

function checkParam(p: PatternParam, ctx: CheckContext): void {
  if (p.defaultValue)
    expectType(p.defaultValue, p.type.name, ctx, 'TP206', `the default of \`${p.name.name}\``);
}

function checkAttend(r: AttendRule, ctx: CheckContext): void {
  expectType(r.condition, 'bool', ctx, 'TP207', 'an `attend` condition');
}

function checkDeny(r: DenyRule, ctx: CheckContext): void {
  expectType(r.condition, 'bool', ctx, 'TP207', 'a `deny` condition');
}

function checkRequire(r: RequireStmt, ctx: CheckContext): void {
  expectType(r.condition, 'bool', ctx, 'TP207', 'a `require` condition');
  if (ctx.types.readsTokens(r.condition, ctx.scope)) {
    ctx.reporter.error(
      'TP215',
      r.condition.range,
      '`require` is checked once at compile time and cannot read the tokens `q` and `k`',
      'use `attend` or `deny` for rules about tokens',
    );
  }
}

function checkPattern(p: PatternDecl, ctx: CheckContext): void {
  if (!ctx.layouts.has(p.layout.name)) {
    ctx.reporter.error(
      'TP204',
      p.layout.range,
      `unknown layout \`${p.layout.name}\``,
      unknownNameHint(p.layout.name, [...ctx.layouts.keys()], 'layout'),
    );
  }
  if (!p.items.some((i) => i.kind === 'AttendRule')) {
    ctx.reporter.error(
      'TP213',
      p.name.range,
      `pattern \`${p.name.name}\` has no \`attend\` rule, so it allows nothing`,
      'add for example `attend true` (full attention) or `attend q.t == k.t`',
    );
  }
}

function checkLayout(d: LayoutDecl, ctx: CheckContext): void {
  const r = ctx.reporter;
  if (d.axes.length === 0)
    r.error(
      'TP216',
      d.name.range,
      `layout \`${d.name.name}\` has no video axes`,
      'name them, outermost (frames) first: `layout video(t, h, w)`',
    );
  const texts = d.items.filter((i) => i.kind === 'TextItem');
  const tiles = d.items.filter((i) => i.kind === 'TilesItem');
  for (const extra of texts.slice(1)) r.error('TP216', extra.range, 'a layout has at most one text segment');
  for (const extra of tiles.slice(1))
    r.error('TP216', extra.range, 'a layout has at most one `tiles(...)` item');
  for (const t of tiles) {
    if (t.extents.length !== d.axes.length) {
      r.error(
        'TP216',
        t.range,
        `\`tiles\` needs one extent per video axis (${d.axes.length}), got ${t.extents.length}`,
        `for example \`tiles(${d.axes.map(() => '1').join(', ')})\``,
      );
    }
    for (const e of t.extents) expectType(e, 'int', ctx, 'TP206', 'a tile extent');
  }
  const padded = new Set<string>();
  for (const item of d.items) {
    if (item.kind === 'SizeItem')
      for (const s of item.sizes)
        expectType(s.defaultValue, 'int', ctx, 'TP206', `the default of size \`${s.name.name}\``);
    if (item.kind !== 'PadItem') continue;
    expectType(item.multiple, 'int', ctx, 'TP206', 'a pad multiple');
    if (padded.has(item.unit)) r.error('TP216', item.range, `\`pad ${item.unit}\` is given twice`);
    padded.add(item.unit);
    if (item.unit === 'tile' && tiles.length === 0)
      r.error(
        'TP216',
        item.range,
        '`pad tile` needs a tiled layout',
        'add `tiles(...)`, or write `pad frame to ...`',
      );
    if (item.unit === 'frame' && tiles.length > 0)
      r.error('TP216', item.range, 'a tiled layout stores tiles, not frames', 'write `pad tile to ...`');
    if (item.unit === 'text' && texts.length === 0)
      r.error('TP216', item.range, '`pad text` needs a text segment', 'add `text(l) after`');
  }
}

/** The declaration checks. */
export const declChecks: DeclChecks = {
  LetDecl: checkLet,
  FnDecl: checkFn,
  PatternParam: checkParam,
  AttendRule: checkAttend,
  DenyRule: checkDeny,
  RequireStmt: checkRequire,
  PatternDecl: checkPattern,
  LayoutDecl: checkLayout,
};
