/**
 * A 5x7 pixel font holding only the letters of the mask-image legend ("full", "partial", "empty"), so the
 * legend can be labelled without a font library. Each glyph is 7 rows of 5 columns, `#` = ink.
 */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  a: ['.....', '.....', '.###.', '....#', '.####', '#...#', '.####'],
  e: ['.....', '.....', '.###.', '#...#', '#####', '#....', '.###.'],
  f: ['..##.', '.#..#', '.#...', '###..', '.#...', '.#...', '.#...'],
  i: ['..#..', '.....', '.##..', '..#..', '..#..', '..#..', '.###.'],
  l: ['.##..', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  m: ['.....', '.....', '##.#.', '#.#.#', '#.#.#', '#...#', '#...#'],
  p: ['.....', '.....', '####.', '#...#', '####.', '#....', '#....'],
  r: ['.....', '.....', '#.##.', '##..#', '#....', '#....', '#....'],
  t: ['.#...', '.#...', '###..', '.#...', '.#...', '.#..#', '..##.'],
  u: ['.....', '.....', '#...#', '#...#', '#...#', '#..##', '.##.#'],
  y: ['.....', '.....', '#...#', '#...#', '.####', '....#', '.###.'],
};

/** Glyph height in pixels. */
export const GLYPH_HEIGHT = 7;
/** Horizontal advance per character (5 columns plus 1 of spacing). */
export const GLYPH_ADVANCE = 6;

/** Width in pixels of `text` drawn with {@link drawText}. */
export function textWidth(text: string): number {
  return text.length * GLYPH_ADVANCE - 1;
}

/**
 * Call `plot(x, y)` for every ink pixel of `text` with its top-left corner at (x0, y0). Characters without a
 * glyph are left blank (the legend only uses the letters above).
 */
export function drawText(text: string, x0: number, y0: number, plot: (x: number, y: number) => void): void {
  for (let c = 0; c < text.length; c++) {
    const glyph = GLYPHS[text[c]!];
    if (!glyph) continue;
    glyph.forEach((row, y) => {
      for (let x = 0; x < row.length; x++) if (row[x] === '#') plot(x0 + c * GLYPH_ADVANCE + x, y0 + y);
    });
  }
}
