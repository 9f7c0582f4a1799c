/**
 * The CST visitor that builds the typed AST of `ast.ts` from a parse without syntax errors.
 *
 * The grammar is deliberately permissive in a few places (any identifier for a type, a pad unit or a text
 * position; comparison chains; any `x in y`), so that the visitor can report those mistakes with a precise
 * message instead of chevrotain's generic "expecting one of" list. Those findings are TP1xx diagnostics too.
 */
import type { CstNode, IToken } from 'chevrotain';
import type {
  AttendRule,
  BinaryOp,
  DenyRule,
  Expr,
  FnDecl,
  FnParam,
  Identifier,
  LayoutDecl,
  LayoutItem,
  LetDecl,
  PadItem,
  PatternDecl,
  PatternItem,
  PatternParam,
  RequireStmt,
  SizeItem,
  TextItem,
  TileFile,
  TilesItem,
  TopLevelItem,
  TypeAnnotation,
} from './ast.js';
import type { Diagnostic, DiagnosticCode } from './diagnostics.js';
import { tileParser } from './parser.js';
import { locationRange, tokenRange } from './positions.js';
import { type SourceRange, spanRanges } from './source.js';
import { unescapeString } from './strings.js';

// chevrotain hands visitor methods an untyped children dictionary; these helpers give it a shape.
type Children = Record<string, (CstNode | IToken)[] | undefined>;

function token(ctx: Children, name: string, index = 0): IToken {
  return ctx[name]![index] as IToken;
}
function maybeToken(ctx: Children, name: string): IToken | undefined {
  return ctx[name]?.[0] as IToken | undefined;
}
function node(ctx: Children, name: string, index = 0): CstNode {
  return ctx[name]![index] as CstNode;
}
function nodes(ctx: Children, name: string): CstNode[] {
  return (ctx[name] ?? []) as CstNode[];
}
function tokens(ctx: Children, name: string): IToken[] {
  return (ctx[name] ?? []) as IToken[];
}
function rangeOf(n: CstNode): SourceRange {
  return locationRange(n.location!);
}

const BaseVisitor = tileParser.getBaseCstVisitorConstructor();

/** Builds the AST; collects the TP1xx findings that the grammar leaves to it. */
export class CstToAst extends BaseVisitor {
  readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly fileName: string) {
    super();
    this.validateVisitor();
  }

  private report(code: DiagnosticCode, range: SourceRange, message: string, hint?: string): void {
    this.diagnostics.push({
      code,
      severity: 'error',
      message,
      range,
      file: this.fileName,
      ...(hint ? { hint } : {}),
    });
  }

  private ident(tok: IToken): Identifier {
    return { kind: 'Identifier', name: tok.image, range: tokenRange(tok) };
  }

  private expr(n: CstNode): Expr {
    return this.visit(n) as Expr;
  }

  file(ctx: Children, range: SourceRange): TileFile {
    const items: TopLevelItem[] = [];
    for (const name of ['layoutDecl', 'patternDecl', 'letDecl', 'fnDecl']) {
      for (const n of nodes(ctx, name)) items.push(this.visit(n) as TopLevelItem);
    }
    items.sort((a, b) => a.range.start.offset - b.range.start.offset);
    return { kind: 'TileFile', items, range };
  }

  layoutDecl(ctx: Children): LayoutDecl {
    const first = token(ctx, 'Layout');
    const last = maybeToken(ctx, 'RCurly') ?? token(ctx, 'RParen');
    const items = nodes(ctx, 'layoutItem').map((n) => this.visit(n) as LayoutItem);
    return {
      kind: 'LayoutDecl',
      name: this.ident(token(ctx, 'name')),
      axes: tokens(ctx, 'axes').map((t) => this.ident(t)),
      items,
      range: spanRanges(tokenRange(first), tokenRange(last)),
    };
  }

  layoutItem(ctx: Children): LayoutItem {
    const child = Object.values(ctx)[0]![0] as CstNode;
    return this.visit(child) as LayoutItem;
  }

  textItem(ctx: Children): TextItem {
    const position = token(ctx, 'position');
    const range = spanRanges(tokenRange(token(ctx, 'Text')), tokenRange(position));
    if (position.image !== 'before' && position.image !== 'after') {
      this.report(
        'TP112',
        tokenRange(position),
        `expected \`before\` or \`after\`, found \`${position.image}\``,
        'write `text(l) after` to put the text tokens after the video tokens',
      );
    }
    return {
      kind: 'TextItem',
      axis: this.ident(token(ctx, 'axis')),
      position: position.image === 'before' ? 'before' : 'after',
      range,
    };
  }

  sizeItem(ctx: Children, _: unknown): SizeItem {
    const entries = nodes(ctx, 'sizeEntry').map(
      (n) => this.visit(n) as { name: Identifier; defaultValue: Expr },
    );
    const last = entries[entries.length - 1]!;
    return {
      kind: 'SizeItem',
      sizes: entries,
      range: spanRanges(tokenRange(token(ctx, 'Size')), last.defaultValue.range),
    };
  }

  sizeEntry(ctx: Children): { name: Identifier; defaultValue: Expr } {
    return { name: this.ident(token(ctx, 'name')), defaultValue: this.expr(node(ctx, 'expression')) };
  }

  tilesItem(ctx: Children): TilesItem {
    return {
      kind: 'TilesItem',
      extents: nodes(ctx, 'expression').map((n) => this.expr(n)),
      range: spanRanges(tokenRange(token(ctx, 'Tiles')), tokenRange(token(ctx, 'RParen'))),
    };
  }

  padItem(ctx: Children): PadItem {
    const unit = token(ctx, 'unit');
    if (unit.image !== 'frame' && unit.image !== 'tile' && unit.image !== 'text') {
      this.report(
        'TP113',
        tokenRange(unit),
        `expected \`frame\`, \`tile\` or \`text\` after \`pad\`, found \`${unit.image}\``,
        'for example `pad frame to 128`',
      );
    }
    const multiple = this.expr(node(ctx, 'expression'));
    return {
      kind: 'PadItem',
      unit: unit.image === 'tile' || unit.image === 'text' ? unit.image : 'frame',
      multiple,
      range: spanRanges(tokenRange(token(ctx, 'Pad')), multiple.range),
    };
  }

  patternDecl(ctx: Children): PatternDecl {
    return {
      kind: 'PatternDecl',
      name: this.ident(token(ctx, 'name')),
      params: nodes(ctx, 'patternParam').map((n) => this.visit(n) as PatternParam),
      layout: this.ident(token(ctx, 'layout')),
      items: nodes(ctx, 'patternItem').map((n) => this.visit(n) as PatternItem),
      range: spanRanges(tokenRange(token(ctx, 'Pattern')), tokenRange(token(ctx, 'RCurly'))),
    };
  }

  patternParam(ctx: Children): PatternParam {
    const name = this.ident(token(ctx, 'name'));
    const type = this.visit(node(ctx, 'typeName')) as TypeAnnotation;
    const defaultNode = ctx.expression ? this.expr(node(ctx, 'expression')) : undefined;
    return {
      kind: 'PatternParam',
      name,
      type,
      ...(defaultNode ? { defaultValue: defaultNode } : {}),
      range: spanRanges(name.range, (defaultNode ?? type).range),
    };
  }

  typeName(ctx: Children): TypeAnnotation {
    const tok = token(ctx, 'name');
    if (tok.image !== 'int' && tok.image !== 'bool') {
      this.report(
        'TP111',
        tokenRange(tok),
        `unknown type \`${tok.image}\``,
        'the types are `int` and `bool`',
      );
    }
    return { kind: 'TypeAnnotation', name: tok.image === 'bool' ? 'bool' : 'int', range: tokenRange(tok) };
  }

  patternItem(ctx: Children): PatternItem {
    const child = Object.values(ctx)[0]![0] as CstNode;
    return this.visit(child) as PatternItem;
  }

  letDecl(ctx: Children): LetDecl {
    const value = this.expr(node(ctx, 'expression'));
    const type = ctx.typeName ? (this.visit(node(ctx, 'typeName')) as TypeAnnotation) : undefined;
    return {
      kind: 'LetDecl',
      name: this.ident(token(ctx, 'name')),
      ...(type ? { type } : {}),
      value,
      range: spanRanges(tokenRange(token(ctx, 'Let')), value.range),
    };
  }

  fnDecl(ctx: Children): FnDecl {
    const body = this.expr(node(ctx, 'expression'));
    const returnType = ctx.typeName ? (this.visit(node(ctx, 'typeName')) as TypeAnnotation) : undefined;
    return {
      kind: 'FnDecl',
      name: this.ident(token(ctx, 'name')),
      params: nodes(ctx, 'fnParam').map((n) => this.visit(n) as FnParam),
      ...(returnType ? { returnType } : {}),
      body,
      range: spanRanges(tokenRange(token(ctx, 'Fn')), body.range),
    };
  }

  fnParam(ctx: Children): FnParam {
    const name = this.ident(token(ctx, 'name'));
    const type = ctx.typeName ? (this.visit(node(ctx, 'typeName')) as TypeAnnotation) : undefined;
    return {
      kind: 'FnParam',
      name,
      ...(type ? { type } : {}),
      range: type ? spanRanges(name.range, type.range) : name.range,
    };
  }

  attendRule(ctx: Children): AttendRule {
    const condition = this.expr(node(ctx, 'expression'));
    return {
      kind: 'AttendRule',
      condition,
      range: spanRanges(tokenRange(token(ctx, 'Attend')), condition.range),
    };
  }

  denyRule(ctx: Children): DenyRule {
    const condition = this.expr(node(ctx, 'expression'));
    return {
      kind: 'DenyRule',
      condition,
      range: spanRanges(tokenRange(token(ctx, 'Deny')), condition.range),
    };
  }

  requireStmt(ctx: Children): RequireStmt {
    const message = token(ctx, 'StringLiteral');
    return {
      kind: 'RequireStmt',
      condition: this.expr(node(ctx, 'expression')),
      message: unescapeString(message.image),
      range: spanRanges(tokenRange(token(ctx, 'Require')), tokenRange(message)),
    };
  }

  expression(ctx: Children): Expr {
    return this.expr(ctx.ifExpr ? node(ctx, 'ifExpr') : node(ctx, 'orExpr'));
  }

  ifExpr(ctx: Children): Expr {
    const otherwise = this.expr(node(ctx, 'otherwise'));
    return {
      kind: 'IfExpr',
      condition: this.expr(node(ctx, 'condition')),
      // biome-ignore lint/suspicious/noThenProperty: the AST contract (ast.ts) names the branch `then`
      then: this.expr(node(ctx, 'then')),
      otherwise,
      range: spanRanges(tokenRange(token(ctx, 'If')), otherwise.range),
    };
  }

  private leftFold(operands: Expr[], ops: string[]): Expr {
    let acc = operands[0]!;
    for (let i = 1; i < operands.length; i++) {
      const right = operands[i]!;
      acc = {
        kind: 'BinaryExpr',
        op: ops[i - 1] as BinaryOp,
        left: acc,
        right,
        range: spanRanges(acc.range, right.range),
      };
    }
    return acc;
  }

  orExpr(ctx: Children): Expr {
    const operands = nodes(ctx, 'operands').map((n) => this.expr(n));
    return this.leftFold(
      operands,
      tokens(ctx, 'OrOr').map(() => '||'),
    );
  }

  andExpr(ctx: Children): Expr {
    const operands = nodes(ctx, 'operands').map((n) => this.expr(n));
    return this.leftFold(
      operands,
      tokens(ctx, 'AndAnd').map(() => '&&'),
    );
  }

  cmpExpr(ctx: Children): Expr {
    let acc = this.expr(node(ctx, 'head'));
    const tails = nodes(ctx, 'tails');
    tails.forEach((tail, i) => {
      if (i === 1) {
        this.report(
          'TP108',
          rangeOf(tail),
          'comparisons and `in` tests do not chain',
          'join the two tests with `&&`, as in `1 <= a && a <= t`',
        );
      }
      acc = this.visit(tail, acc) as Expr;
    });
    return acc;
  }

  cmpTail(ctx: Children, left: Expr): Expr {
    if (ctx.CmpOp) {
      const right = this.expr(node(ctx, 'right'));
      return {
        kind: 'BinaryExpr',
        op: token(ctx, 'CmpOp').image as BinaryOp,
        left,
        right,
        range: spanRanges(left.range, right.range),
      };
    }
    return this.visit(node(ctx, 'inTarget'), left) as Expr;
  }

  inTarget(ctx: Children, value: Expr): Expr {
    if (ctx.LCurly) {
      const range = spanRanges(value.range, tokenRange(token(ctx, 'RCurly')));
      return { kind: 'SetTest', value, members: nodes(ctx, 'members').map((n) => this.expr(n)), range };
    }
    const low = this.expr(node(ctx, 'low'));
    const rangeOp = maybeToken(ctx, 'rangeOp');
    if (rangeOp) {
      const high = this.expr(node(ctx, 'high'));
      return {
        kind: 'RangeTest',
        value,
        low,
        high,
        inclusive: rangeOp.image === '..=',
        range: spanRanges(value.range, high.range),
      };
    }
    const range = spanRanges(value.range, low.range);
    const segment =
      low.kind === 'NameRef' && (low.name.name === 'video' || low.name.name === 'text')
        ? low.name.name
        : null;
    const side =
      value.kind === 'NameRef' && (value.name.name === 'q' || value.name.name === 'k')
        ? value.name.name
        : null;
    if (segment && side) return { kind: 'SegmentTest', side, segment, range };
    if (segment) {
      this.report(
        'TP110',
        value.range,
        `only a token, \`q\` or \`k\`, can be tested for \`in ${segment}\``,
        `write \`q in ${segment}\` or \`k in ${segment}\``,
      );
    } else {
      this.report(
        'TP110',
        low.range,
        'expected a range `lo..hi`, a set `{a, b}`, `video` or `text` after `in`',
        'for example `q.t in 0..4` or `k in text`',
      );
    }
    return { kind: 'SegmentTest', side: side ?? 'q', segment: segment ?? 'video', range };
  }

  addExpr(ctx: Children): Expr {
    const operands = nodes(ctx, 'operands').map((n) => this.expr(n));
    return this.leftFold(
      operands,
      tokens(ctx, 'AddOp').map((t) => t.image),
    );
  }

  mulExpr(ctx: Children): Expr {
    const operands = nodes(ctx, 'operands').map((n) => this.expr(n));
    return this.leftFold(
      operands,
      tokens(ctx, 'MulOp').map((t) => t.image),
    );
  }

  unaryExpr(ctx: Children): Expr {
    if (ctx.primary) return this.expr(node(ctx, 'primary'));
    const op = token(ctx, 'op');
    const operand = this.expr(node(ctx, 'operand'));
    return {
      kind: 'UnaryExpr',
      op: op.image === '!' ? '!' : '-',
      operand,
      range: spanRanges(tokenRange(op), operand.range),
    };
  }

  primary(ctx: Children): Expr {
    const int = maybeToken(ctx, 'IntLiteral');
    if (int) {
      const value = Number(int.image);
      if (!Number.isSafeInteger(value)) {
        this.report(
          'TP104',
          tokenRange(int),
          `integer literal \`${int.image}\` is too large`,
          `integers must stay below 2^53; values in a pattern must fit in 32 bits`,
        );
      }
      return { kind: 'IntLiteral', value: Number.isSafeInteger(value) ? value : 0, range: tokenRange(int) };
    }
    const bool = maybeToken(ctx, 'True') ?? maybeToken(ctx, 'False');
    if (bool) return { kind: 'BoolLiteral', value: bool.image === 'true', range: tokenRange(bool) };
    if (ctx.LParen) {
      const range = spanRanges(tokenRange(token(ctx, 'LParen')), tokenRange(token(ctx, 'RParen')));
      return { kind: 'ParenExpr', inner: this.expr(node(ctx, 'expression')), range };
    }
    return this.expr(node(ctx, 'nameExpr'));
  }

  nameExpr(ctx: Children): Expr {
    const name = this.ident(token(ctx, 'name'));
    if (ctx.LParen) {
      const range = spanRanges(name.range, tokenRange(token(ctx, 'RParen')));
      return { kind: 'CallExpr', callee: name, args: nodes(ctx, 'args').map((n) => this.expr(n)), range };
    }
    const axisToken = maybeToken(ctx, 'axis');
    if (axisToken) {
      const axis = this.ident(axisToken);
      const range = spanRanges(name.range, axis.range);
      if (name.name !== 'q' && name.name !== 'k') {
        this.report(
          'TP109',
          name.range,
          `only the tokens \`q\` and \`k\` have coordinates, not \`${name.name}\``,
          `write \`q.${axis.name}\` (query) or \`k.${axis.name}\` (key)`,
        );
      }
      return { kind: 'CoordRef', side: name.name === 'k' ? 'k' : 'q', axis, range };
    }
    return { kind: 'NameRef', name, range: name.range };
  }
}
