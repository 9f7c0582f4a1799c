/**
 * Whether a pattern reads `head`, the attention head it is evaluated for (compiler/check/scope.ts HEAD_NAME):
 * such a pattern is instantiated once per head (`InstantiateOptions.head`), and heads whose instances are equal
 * share a block plan (compiler/layer-plan.ts).
 */
import type { FnDecl, PatternDecl, TileFile } from '../../dsl/ast.js';
import { HEAD_NAME } from '../check/scope.js';

/** True when `pattern` of `file` reads the built-in `head` (and no declaration of its own named `head`). */
export function patternReadsHead(file: TileFile, pattern: PatternDecl): boolean {
  const declared = (items: readonly { kind: string; name?: { name: string } }[]) =>
    items.some((i) => (i.kind === 'LetDecl' || i.kind === 'FnDecl') && i.name?.name === HEAD_NAME);
  if (
    declared(file.items) ||
    declared(pattern.items) ||
    pattern.params.some((p) => p.name.name === HEAD_NAME)
  )
    return false;
  return reads(pattern.items);
}

/** A walk over the AST's plain data for a `NameRef` to `head`, skipping helpers that take a `head` parameter. */
function reads(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(reads);
  if (typeof node !== 'object' || node === null) return false;
  const n = node as { kind?: string; name?: { name?: string } };
  if (n.kind === 'NameRef') return n.name?.name === HEAD_NAME;
  if (n.kind === 'FnDecl' && (node as FnDecl).params.some((p) => p.name.name === HEAD_NAME)) return false;
  return Object.values(node).some((v) => typeof v === 'object' && v !== null && reads(v));
}
