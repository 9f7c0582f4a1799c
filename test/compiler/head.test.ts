/**
 * `head` in the pattern language: a pattern may read the attention head it is evaluated for. The checker
 * knows the name in pattern bodies only (a file that declares its own `head` keeps it), and lowering binds it
 * per head and names the head in the instance key. `planLayers` evaluating such a pattern once per head, heads
 * whose predicates fold to the same one sharing a block plan, is tested in test/models/open-sora-plan/per-head.
 */
import { describe, expect, it } from 'vitest';
import { checkTile } from '../../compiler/check/index.js';
import { compileSource, sourceReadsHead } from '../../compiler/frontend.js';
import { TesseraError } from '../../dsl/diagnostics.js';
import { parseTile } from '../../dsl/parse.js';

const SVG = `layout video(t, h, w)

pattern svg(split: int = 2) on video {
  attend if head < split then q.t == k.t else q.h == k.h && q.w == k.w
}
`;

function codes(text: string): string[] {
  const parsed = parseTile({ name: 'x.tile', text });
  return checkTile(parsed.file!, 'x.tile').map((d) => d.code);
}

describe('head in the language', () => {
  it('is an int in pattern bodies, and nowhere else', () => {
    expect(codes(SVG)).toEqual([]);
    expect(codes('layout v(t)\npattern p() on v { let g = head / 4\n attend q.t == k.t || g == 1 }')).toEqual(
      [],
    );
    expect(codes('layout v(t)\npattern p() on v { attend head }')).not.toEqual([]);
    expect(codes('layout v(t)\npattern p(a: int = head) on v { attend q.t == a }')).toEqual(['TP210']);
    expect(codes('layout v(t)\nlet x = head\npattern p() on v { attend q.t == x }')).toEqual(['TP202']);
  });

  it('leaves a file that declares its own head as it was', () => {
    const own = 'layout v(t)\nlet head = 1\npattern p() on v { attend q.t == head }';
    expect(codes(own)).toEqual([]);
    expect(sourceReadsHead({ name: 'x.tile', text: own }, undefined)).toBe(false);
    expect(compileSource({ name: 'x.tile', text: own }, { sizes: { t: 3 } }).key).toBe('p_t3');
    const param = 'layout v(t)\npattern p(head: int = 0) on v { attend q.t == head }';
    expect(sourceReadsHead({ name: 'x.tile', text: param }, undefined)).toBe(false);
    const fnParam = 'layout v(t)\npattern p() on v {\n  fn f(head) = head + 1\n  attend q.t == f(k.t)\n}';
    expect(codes(fnParam)).toEqual([]);
    expect(sourceReadsHead({ name: 'x.tile', text: fnParam }, undefined)).toBe(false);
  });

  it('is bound per head: the key names the head, and a compile without one is TP319', () => {
    const source = { name: 'svg.tile', text: SVG };
    expect(sourceReadsHead(source, undefined)).toBe(true);
    const sizes = { t: 3, h: 2, w: 2 };
    const h0 = compileSource(source, { sizes, head: 0 });
    const h3 = compileSource(source, { sizes, head: 3 });
    expect([h0.key, h3.key]).toEqual(['svg_split2_head0_t3x2x2', 'svg_split2_head3_t3x2x2']);
    expect(JSON.stringify(h0.predicate)).not.toBe(JSON.stringify(h3.predicate));
    expect(JSON.stringify(compileSource(source, { sizes, head: 1 }).predicate)).toBe(
      JSON.stringify(h0.predicate),
    );
    let caught: unknown;
    try {
      compileSource(source, { sizes });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TesseraError);
    expect((caught as TesseraError).diagnostics.map((d) => d.code)).toEqual(['TP319']);
    expect((caught as Error).message).toMatch(/reads `head`/);
  });
});
