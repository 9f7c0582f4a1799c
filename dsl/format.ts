/**
 * The canonical layout of a `.tile` file: 2-space indent, one item per line, expressions with the fewest
 * parentheses plus the user's own, comments kept (a comment inside an item moves to the line before it), and
 * at most one blank line where the source had some. `parseTile(formatTile(f))` gives `f` back (ranges
 * aside) and formatting is idempotent; both are property-tested.
 */
import type {
  Comment,
  FnDecl,
  LayoutDecl,
  LayoutItem,
  LetDecl,
  PatternDecl,
  PatternItem,
  TileFile,
  TopLevelItem,
  TypeAnnotation,
} from './ast.js';
import { formatExpr, formatExprWrapped } from './format-expr.js';
import type { SourceRange } from './source.js';
import { escapeString } from './strings.js';

const INDENT = '  ';
/** Continuation lines of a broken rule: the item's indent plus four. */
const CONTINUATION = `${INDENT}    `;

function typeSuffix(type: TypeAnnotation | undefined): string {
  return type ? `: ${type.name}` : '';
}

function formatLet(d: LetDecl): string {
  return `let ${d.name.name}${typeSuffix(d.type)} = ${formatExpr(d.value)}`;
}

function formatFn(d: FnDecl): string {
  const params = d.params.map((p) => `${p.name.name}${typeSuffix(p.type)}`).join(', ');
  return `fn ${d.name.name}(${params})${typeSuffix(d.returnType)} = ${formatExpr(d.body)}`;
}

function formatLayoutItem(item: LayoutItem): string {
  switch (item.kind) {
    case 'TextItem':
      return `text(${item.axis.name}) ${item.position}`;
    case 'SizeItem':
      return `size ${item.sizes.map((s) => `${s.name.name} = ${formatExpr(s.defaultValue)}`).join(', ')}`;
    case 'TilesItem':
      return `tiles(${item.extents.map(formatExpr).join(', ')})`;
    case 'PadItem':
      return `pad ${item.unit} to ${formatExpr(item.multiple)}`;
  }
}

function formatPatternItem(item: PatternItem): string {
  switch (item.kind) {
    case 'LetDecl':
      return formatLet(item);
    case 'FnDecl':
      return formatFn(item);
    case 'AttendRule':
      return `attend ${formatExprWrapped(item.condition, INDENT.length + 7, CONTINUATION)}`;
    case 'DenyRule':
      return `deny ${formatExprWrapped(item.condition, INDENT.length + 5, CONTINUATION)}`;
    case 'RequireStmt':
      return `require ${formatExpr(item.condition)} else ${escapeString(item.message)}`;
  }
}

function layoutHeader(d: LayoutDecl): string {
  return `layout ${d.name.name}(${d.axes.map((a) => a.name).join(', ')})`;
}

function patternHeader(d: PatternDecl): string {
  const params = d.params
    .map((p) => `${p.name.name}: ${p.type.name}${p.defaultValue ? ` = ${formatExpr(p.defaultValue)}` : ''}`)
    .join(', ');
  return `pattern ${d.name.name}(${params}) on ${d.layout.name}`;
}

/** Writes lines and hands out the file's comments as the items they belong to are written. */
class Printer {
  private readonly lines: string[] = [];
  private next = 0;
  private lastEndLine = -1;

  constructor(private readonly comments: readonly Comment[]) {}

  private emitComment(c: Comment, indent: string): void {
    this.gap(c.range.start.line);
    // Only the first line is re-indented: later lines of a block comment are the user's text.
    this.lines.push(indent + c.text);
    this.lastEndLine = c.range.end.line;
  }

  /** Comments that start before `offset`, written on their own lines. */
  leading(offset: number, indent: string): void {
    while (this.next < this.comments.length && this.comments[this.next]!.range.start.offset < offset) {
      this.emitComment(this.comments[this.next++]!, indent);
    }
  }

  /** Keep one blank line where the source had at least one before `line`. */
  private gap(line: number): void {
    const last = this.lines[this.lines.length - 1];
    if (
      this.lastEndLine > 0 &&
      line > this.lastEndLine + 1 &&
      last !== undefined &&
      last !== '' &&
      !last.endsWith('{')
    ) {
      this.lines.push('');
    }
  }

  /** Write a one-line item: comments before and inside it first, comments after it on its line behind it. */
  item(text: string, range: SourceRange, indent: string, nextOffset: number): void {
    this.leading(range.end.offset, indent);
    this.gap(range.start.line);
    let line = indent + text;
    while (this.next < this.comments.length) {
      const c = this.comments[this.next]!;
      if (
        c.range.start.line !== range.end.line ||
        c.range.start.offset >= nextOffset ||
        c.text.includes('\n')
      )
        break;
      line += ` ${c.text}`;
      this.next++;
    }
    this.lines.push(line);
    this.lastEndLine = range.end.line;
  }

  /** Write a block `header {` ... `}`: the header's comments go before it, the body is written by `body`. */
  block(header: string, range: SourceRange, hasBody: boolean, body: () => void, nextOffset: number): void {
    if (!hasBody) {
      this.item(header, range, '', nextOffset);
      return;
    }
    this.gap(range.start.line);
    this.lines.push(`${header} {`);
    this.lastEndLine = range.start.line;
    body();
    this.leading(range.end.offset, INDENT);
    this.item('}', { start: range.end, end: range.end }, '', nextOffset);
  }

  blank(): void {
    if (this.lines.length > 0 && this.lines[this.lines.length - 1] !== '') this.lines.push('');
  }

  finish(): string {
    this.leading(Number.POSITIVE_INFINITY, '');
    while (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
    return this.lines.length > 0 ? `${this.lines.join('\n')}\n` : '';
  }
}

function offsetAfter(items: readonly { range: SourceRange }[], index: number, fallback: number): number {
  return items[index + 1]?.range.start.offset ?? fallback;
}

function isBlock(item: TopLevelItem): boolean {
  return item.kind === 'LayoutDecl' || item.kind === 'PatternDecl';
}

/** The canonical text of a file (ends with a newline unless empty). */
export function formatTile(file: TileFile): string {
  const printer = new Printer(file.comments ?? []);
  file.items.forEach((item, i) => {
    const prev = file.items[i - 1];
    if (prev && (isBlock(item) || isBlock(prev))) printer.blank();
    const after = offsetAfter(file.items, i, Number.POSITIVE_INFINITY);
    switch (item.kind) {
      case 'LetDecl':
        printer.item(formatLet(item), item.range, '', after);
        break;
      case 'FnDecl':
        printer.item(formatFn(item), item.range, '', after);
        break;
      case 'LayoutDecl':
        printer.leading(item.range.start.offset, '');
        printer.block(
          layoutHeader(item),
          item.range,
          item.items.length > 0,
          () => {
            item.items.forEach((li, j) => {
              printer.item(
                formatLayoutItem(li),
                li.range,
                INDENT,
                offsetAfter(item.items, j, item.range.end.offset),
              );
            });
          },
          after,
        );
        break;
      case 'PatternDecl':
        printer.leading(item.range.start.offset, '');
        printer.block(
          patternHeader(item),
          item.range,
          true,
          () => {
            item.items.forEach((pi, j) => {
              printer.item(
                formatPatternItem(pi),
                pi.range,
                INDENT,
                offsetAfter(item.items, j, item.range.end.offset),
              );
            });
          },
          after,
        );
        break;
    }
  });
  return printer.finish();
}
