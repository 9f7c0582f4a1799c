/**
 * The typed syntax tree of a `.tile` file. Every node has a `kind` (the discriminant) and the `range` of
 * source text it came from. The parser builds it; checks, the formatter and lowering read it.
 *
 * A file holds layouts, patterns, and file-level `let` constants and `fn` helpers:
 *
 *   layout video(t, h, w)                       // frame-major video tokens; axis names are also sizes
 *   layout video_text(t, h, w) {                // optional body of layout items
 *     text(l) after                             // l text tokens after (or `before`) the video tokens
 *     size tt = 6, th = 8, tw = 8               // extra symbolic sizes with defaults
 *     tiles(tt, th, tw)                         // reorder video tokens into contiguous tt x th x tw tiles
 *     pad frame to 128                          // pad each frame (or tile, or the text) to a multiple
 *   }
 *   pattern attention_tile(a: int = 2) on video {
 *     require a >= 1 && a <= t else "a must be between 1 and the frame count"
 *     let s = ceildiv(t, a)
 *     fn global(f) = f % s == 0 && f / s < a
 *     attend q.t == k.t
 *     attend global(k.t) || global(q.t)
 *     deny q in text && k in text
 *   }
 */
import type { SourceRange } from './source.js';

/** Fields every node has. */
interface NodeBase {
  readonly range: SourceRange;
}

/** An identifier with its own range, so diagnostics can point at a name exactly. */
export interface Identifier extends NodeBase {
  readonly kind: 'Identifier';
  readonly name: string;
}

/** The two value types of the language. */
export type TypeName = 'int' | 'bool';

/** A written type annotation (`: int`). */
export interface TypeAnnotation extends NodeBase {
  readonly kind: 'TypeAnnotation';
  readonly name: TypeName;
}

// ---------------------------------------------------------------------------------------------------------
// Expressions

/** Which side of the attention map a token reference names: the query (`q`) or the key (`k`). */
export type Side = 'q' | 'k';

/** Integer literal, e.g. `128`. */
export interface IntLiteral extends NodeBase {
  readonly kind: 'IntLiteral';
  readonly value: number;
}

/** `true` or `false`. */
export interface BoolLiteral extends NodeBase {
  readonly kind: 'BoolLiteral';
  readonly value: boolean;
}

/** A name: a parameter, a `let`, a layout size, or a function parameter. */
export interface NameRef extends NodeBase {
  readonly kind: 'NameRef';
  readonly name: Identifier;
}

/** A token coordinate, e.g. `q.t` or `k.w`. */
export interface CoordRef extends NodeBase {
  readonly kind: 'CoordRef';
  readonly side: Side;
  readonly axis: Identifier;
}

/** Segment membership, e.g. `q in video`, `k in text`. */
export interface SegmentTest extends NodeBase {
  readonly kind: 'SegmentTest';
  readonly side: Side;
  readonly segment: 'video' | 'text';
}

/** `-x` or `!x`. */
export interface UnaryExpr extends NodeBase {
  readonly kind: 'UnaryExpr';
  readonly op: '-' | '!';
  readonly operand: Expr;
}

/** Binary operators, loosest first: `||`, `&&`, comparisons, `+ -`, `* / %`. `/` and `%` floor. */
export type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%';

/** `a op b`. */
export interface BinaryExpr extends NodeBase {
  readonly kind: 'BinaryExpr';
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
}

/** A call of a built-in (`min max abs clamp ceildiv floordiv log2 pow2`) or of a `fn` helper. */
export interface CallExpr extends NodeBase {
  readonly kind: 'CallExpr';
  readonly callee: Identifier;
  readonly args: readonly Expr[];
}

/** `if c then a else b`. */
export interface IfExpr extends NodeBase {
  readonly kind: 'IfExpr';
  readonly condition: Expr;
  readonly then: Expr;
  readonly otherwise: Expr;
}

/** `x in lo..hi` (half-open) or `x in lo..=hi` (inclusive). */
export interface RangeTest extends NodeBase {
  readonly kind: 'RangeTest';
  readonly value: Expr;
  readonly low: Expr;
  readonly high: Expr;
  readonly inclusive: boolean;
}

/** `x in {a, b, c}`. */
export interface SetTest extends NodeBase {
  readonly kind: 'SetTest';
  readonly value: Expr;
  readonly members: readonly Expr[];
}

/** `(e)`, kept so the formatter can reproduce the user's grouping. */
export interface ParenExpr extends NodeBase {
  readonly kind: 'ParenExpr';
  readonly inner: Expr;
}

/** Any expression. */
export type Expr =
  | IntLiteral
  | BoolLiteral
  | NameRef
  | CoordRef
  | SegmentTest
  | UnaryExpr
  | BinaryExpr
  | CallExpr
  | IfExpr
  | RangeTest
  | SetTest
  | ParenExpr;

// ---------------------------------------------------------------------------------------------------------
// Declarations and statements

/** `let name = expr` (in a file or a pattern body). */
export interface LetDecl extends NodeBase {
  readonly kind: 'LetDecl';
  readonly name: Identifier;
  readonly type?: TypeAnnotation;
  readonly value: Expr;
}

/** A function parameter: `x` or `x: int`. Untyped parameters are `int`. */
export interface FnParam extends NodeBase {
  readonly kind: 'FnParam';
  readonly name: Identifier;
  readonly type?: TypeAnnotation;
}

/** `fn name(a, b: int): bool = expr` (in a file or a pattern body); helpers are not recursive. */
export interface FnDecl extends NodeBase {
  readonly kind: 'FnDecl';
  readonly name: Identifier;
  readonly params: readonly FnParam[];
  readonly returnType?: TypeAnnotation;
  readonly body: Expr;
}

/** A pattern parameter: `a: int = 2`; the default is optional (then `--set` must give it). */
export interface PatternParam extends NodeBase {
  readonly kind: 'PatternParam';
  readonly name: Identifier;
  readonly type: TypeAnnotation;
  readonly defaultValue?: Expr;
}

/** `attend expr`: the union of all attend rules is the allowed set. */
export interface AttendRule extends NodeBase {
  readonly kind: 'AttendRule';
  readonly condition: Expr;
}

/** `deny expr`: pairs matching any deny rule are removed from the allowed set. */
export interface DenyRule extends NodeBase {
  readonly kind: 'DenyRule';
  readonly condition: Expr;
}

/** `require cond else "message"`: a check on parameters and sizes, evaluated at compile time. */
export interface RequireStmt extends NodeBase {
  readonly kind: 'RequireStmt';
  readonly condition: Expr;
  readonly message: string;
}

/** What a pattern body may hold, in source order. */
export type PatternItem = LetDecl | FnDecl | AttendRule | DenyRule | RequireStmt;

/** `pattern name(params) on layout_name { items }`. */
export interface PatternDecl extends NodeBase {
  readonly kind: 'PatternDecl';
  readonly name: Identifier;
  readonly params: readonly PatternParam[];
  readonly layout: Identifier;
  readonly items: readonly PatternItem[];
}

/** `text(l) before|after`: a text segment of `l` tokens; `l` is also its axis name. */
export interface TextItem extends NodeBase {
  readonly kind: 'TextItem';
  readonly axis: Identifier;
  readonly position: 'before' | 'after';
}

/** `size tt = 6, th = 8`: extra symbolic sizes with defaults, settable from the command line. */
export interface SizeItem extends NodeBase {
  readonly kind: 'SizeItem';
  readonly sizes: readonly { readonly name: Identifier; readonly defaultValue: Expr }[];
}

/** `tiles(a, b, c)`: reorder video tokens into contiguous tiles, one extent per video axis. */
export interface TilesItem extends NodeBase {
  readonly kind: 'TilesItem';
  readonly extents: readonly Expr[];
}

/** `pad frame to 128`: round each unit (a frame, a tile, or the whole text segment) up to a multiple. */
export interface PadItem extends NodeBase {
  readonly kind: 'PadItem';
  readonly unit: 'frame' | 'tile' | 'text';
  readonly multiple: Expr;
}

/** What a layout body may hold. */
export type LayoutItem = TextItem | SizeItem | TilesItem | PadItem;

/** `layout name(t, h, w) { items }`: video axes, outermost (the frame axis) first. */
export interface LayoutDecl extends NodeBase {
  readonly kind: 'LayoutDecl';
  readonly name: Identifier;
  readonly axes: readonly Identifier[];
  readonly items: readonly LayoutItem[];
}

/** What a file may hold at top level. */
export type TopLevelItem = LayoutDecl | PatternDecl | LetDecl | FnDecl;

/** A line comment or a block comment, kept so the formatter can put it back. */
export interface Comment extends NodeBase {
  readonly kind: 'Comment';
  /** The comment's source text, delimiters included. */
  readonly text: string;
}

/** A parsed `.tile` file. */
export interface TileFile extends NodeBase {
  readonly kind: 'TileFile';
  readonly items: readonly TopLevelItem[];
  /** The file's comments in source order (absent when there are none); they carry no meaning. */
  readonly comments?: readonly Comment[];
}

/** Every node kind, for tables of checks keyed by kind. */
export type Node =
  | TileFile
  | TopLevelItem
  | PatternItem
  | LayoutItem
  | Expr
  | Identifier
  | TypeAnnotation
  | FnParam
  | PatternParam;

/** Built-in functions and their arity. */
export const BUILTIN_FUNCTIONS = {
  min: 2,
  max: 2,
  abs: 1,
  clamp: 3,
  ceildiv: 2,
  floordiv: 2,
  log2: 1,
  pow2: 1,
} as const;

/** A built-in function name. */
export type BuiltinName = keyof typeof BUILTIN_FUNCTIONS;

/** The direct sub-expressions of an expression, for walks over the tree. */
export function exprChildren(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'UnaryExpr':
      return [e.operand];
    case 'BinaryExpr':
      return [e.left, e.right];
    case 'CallExpr':
      return e.args;
    case 'IfExpr':
      return [e.condition, e.then, e.otherwise];
    case 'RangeTest':
      return [e.value, e.low, e.high];
    case 'SetTest':
      return [e.value, ...e.members];
    case 'ParenExpr':
      return [e.inner];
    default:
      return [];
  }
}
