/**
 * The picture a researcher looks at first: the layer x candidate error matrix as a heatmap (layers down, the
 * candidates across, sparsest on the left), colour = error on a log scale (viridis), every cell labelled with
 * its value. Each threshold r has a colour: its contour separates the cells whose error is at most r from the
 * others, a dot marks the cell it chose in each layer, and a tick on the colour bar shows where r lies. Cells of
 * error exactly 0 (full attention, the reference) are grey. Drawn once as a scene, written as PNG and SVG.
 */
import { luminance, viridis } from '../codegen/png/colormap.js';
import { lineHeight, type Rgb, type Scene, type SceneItem, textWidth } from '../codegen/png/scene.js';
import type { LayerMeasurement, SearchResult } from './measure.js';
import type { SearchRecord } from './plans.js';
import { formatError } from './report.js';

/** What the heatmap shows. */
export interface HeatmapInput {
  readonly title: string;
  readonly subtitle: string;
  /** The candidates, sparsest first: a label and a detail line (e.g. computed blocks). */
  readonly columns: readonly { readonly label: string; readonly detail: string }[];
  /** Per layer, the error of each candidate. */
  readonly rows: readonly (readonly number[])[];
  /** Each threshold and the candidate it chose per layer. */
  readonly thresholds: readonly { readonly r: number; readonly choices: readonly number[] }[];
}

/** Threshold colours: bright against viridis, told apart by hue; drawn over a dark casing. */
export const THRESHOLD_COLORS: readonly Rgb[] = [
  [255, 64, 64],
  [255, 160, 30],
  [255, 255, 255],
  [240, 90, 200],
  [0, 215, 255],
  [170, 170, 170],
  [120, 90, 255],
];

const INK: Rgb = [25, 25, 25];
const MUTED: Rgb = [95, 95, 95];
const ZERO: Rgb = [215, 215, 215];
const CASING: Rgb = [20, 20, 20];
const MARGIN = 18;
const CELL_H = 22;
const BAR_W = 18;

/** The colour scale: whole decades around the positive errors and thresholds. */
function logScale(values: readonly number[]): { lo: number; hi: number; t: (e: number) => number } {
  const positive = values.filter((e) => Number.isFinite(e) && e > 0);
  let lo = positive.length ? Math.floor(Math.log10(Math.min(...positive))) : -3;
  let hi = positive.length ? Math.ceil(Math.log10(Math.max(...positive))) : 0;
  if (hi <= lo) hi = lo + 1;
  lo = Math.max(lo, hi - 6);
  return { lo, hi, t: (e) => (Math.log10(e) - lo) / (hi - lo) };
}

/** `1e-3`, `0.01`, `0.1`, `1`, `10`. */
function decade(p: number): string {
  return p >= -2 && p <= 2 ? String(10 ** p) : `1e${p}`;
}

/** The heatmap as a scene (see the module comment). */
export function errorHeatmapScene(input: HeatmapInput): Scene {
  const { columns, rows, thresholds } = input;
  const items: SceneItem[] = [];
  const scale = logScale([...rows.flat(), ...thresholds.map((t) => t.r)]);
  const small = lineHeight('small');
  const normal = lineHeight('normal');
  const title = lineHeight('title');

  const markers = thresholds.length;
  const widestValue = Math.max(...rows.flat().map((e) => textWidth(formatError(e), 'small')), 20);
  const widestLabel = Math.max(
    ...columns.flatMap((c) => [textWidth(c.label, 'normal'), textWidth(c.detail, 'small')]),
  );
  const cellW = Math.max(widestLabel + 12, 12 + 8 * markers + widestValue + 14);
  const tickW = textWidth(String(rows.length - 1), 'small');

  const gridX = MARGIN + normal + 8 + tickW + 6;
  const gridY = MARGIN + title + 4 + normal + 14;
  const gridW = cellW * columns.length;
  const gridH = CELL_H * rows.length;
  const barX = gridX + gridW + 28;
  const barLabels = Math.max(...[scale.lo, scale.hi].map((p) => textWidth(decade(p), 'small')));
  const barH = Math.max(gridH, 160);
  const legendX = barX + BAR_W + 8 + barLabels + 24;
  const summary = (choices: readonly number[]) =>
    columns
      .map((col, c) => [col.label, choices.filter((x) => x === c).length] as const)
      .filter(([, n]) => n > 0)
      .map(([label, n]) => `${n} x ${label}`)
      .join(', ');
  const legendLines = [
    ...thresholds.map((t) => `r = ${t.r}: ${summary(t.choices)}`),
    'error 0: full attention (the reference)',
  ];
  const legendW = Math.max(...legendLines.map((l) => textWidth(l, 'normal'))) + 34;
  const width = Math.max(
    legendX + legendW + MARGIN,
    MARGIN * 2 + textWidth(input.title, 'title'),
    MARGIN * 2 + textWidth(input.subtitle, 'normal'),
  );
  const legendBottom = gridY + legendLines.length * (normal + 8) + 6 + 2 * (small + 4);
  const height =
    Math.max(gridY + gridH + 8 + normal + small + 10 + normal, gridY + barH, legendBottom) + MARGIN;

  items.push({
    kind: 'text',
    x: MARGIN,
    y: MARGIN + title / 2,
    text: input.title,
    font: 'title',
    color: INK,
    anchor: 'start',
  });
  items.push({
    kind: 'text',
    x: MARGIN,
    y: MARGIN + title + 4 + normal / 2,
    text: input.subtitle,
    font: 'normal',
    color: MUTED,
    anchor: 'start',
  });

  // Cells, labelled with their values.
  rows.forEach((row, layer) => {
    row.forEach((e, c) => {
      const x = gridX + c * cellW;
      const y = gridY + layer * CELL_H;
      const fill = e === 0 ? ZERO : Number.isFinite(e) ? viridis(scale.t(e)) : INK;
      items.push({ kind: 'rect', x, y, w: cellW, h: CELL_H, fill });
      items.push({
        kind: 'text',
        x: x + cellW - 10,
        y: y + CELL_H / 2,
        text: formatError(e),
        font: 'small',
        color: luminance(fill) > 0.35 ? INK : [255, 255, 255],
        anchor: 'end',
      });
    });
  });
  // Hairlines between cells keep rows and columns apart where neighbours have the same colour.
  for (let layer = 1; layer < rows.length; layer++)
    items.push({
      kind: 'line',
      x1: gridX,
      y1: gridY + layer * CELL_H,
      x2: gridX + gridW,
      y2: gridY + layer * CELL_H,
      stroke: [255, 255, 255],
      width: 1,
    });
  for (let c = 1; c < columns.length; c++)
    items.push({
      kind: 'line',
      x1: gridX + c * cellW,
      y1: gridY,
      x2: gridX + c * cellW,
      y2: gridY + gridH,
      stroke: [255, 255, 255],
      width: 1,
    });
  items.push({ kind: 'rect', x: gridX - 1, y: gridY - 1, w: gridW + 2, h: gridH + 2, stroke: INK });

  // Contours: the cell edges where "error <= r" changes. Thresholds that cut along the same edge are drawn
  // side by side, so every stripe stays visible.
  const edges = new Map<string, { x1: number; y1: number; x2: number; y2: number; ks: number[] }>();
  const cut = (key: string, x1: number, y1: number, x2: number, y2: number, k: number) => {
    const edge = edges.get(key) ?? { x1, y1, x2, y2, ks: [] };
    edge.ks.push(k);
    edges.set(key, edge);
  };
  thresholds.forEach(({ r }, k) => {
    const inside = (layer: number, c: number) => rows[layer]![c]! <= r;
    for (let layer = 0; layer < rows.length; layer++)
      for (let c = 0; c < columns.length; c++) {
        const x = gridX + (c + 1) * cellW;
        const y = gridY + (layer + 1) * CELL_H;
        if (c + 1 < columns.length && inside(layer, c) !== inside(layer, c + 1))
          cut(`v${layer},${c}`, x, y - CELL_H, x, y, k);
        if (layer + 1 < rows.length && inside(layer, c) !== inside(layer + 1, c))
          cut(`h${layer},${c}`, x - cellW, y, x, y, k);
      }
  });
  for (const pass of ['casing', 'stripe'] as const)
    for (const { x1, y1, x2, y2, ks } of edges.values())
      ks.forEach((k, j) => {
        const d = (j - (ks.length - 1) / 2) * 3;
        const [dx, dy] = x1 === x2 ? [d, 0] : [0, d];
        const stroke = pass === 'casing' ? CASING : THRESHOLD_COLORS[k % THRESHOLD_COLORS.length]!;
        items.push({
          kind: 'line',
          x1: x1 + dx,
          y1: y1 + dy,
          x2: x2 + dx,
          y2: y2 + dy,
          stroke,
          width: pass === 'casing' ? 4 : 2,
        });
      });

  // The chosen cell of every threshold: a dot in the threshold's colour, in its own slot.
  thresholds.forEach(({ choices }, k) => {
    choices.forEach((c, layer) => {
      items.push({
        kind: 'circle',
        cx: gridX + c * cellW + 9 + 8 * k,
        cy: gridY + layer * CELL_H + CELL_H / 2,
        r: 3.2,
        fill: THRESHOLD_COLORS[k % THRESHOLD_COLORS.length]!,
        stroke: CASING,
      });
    });
  });

  // Axes: layer numbers and label on the left, candidates and label below.
  for (let layer = 0; layer < rows.length; layer++)
    items.push({
      kind: 'text',
      x: gridX - 6,
      y: gridY + layer * CELL_H + CELL_H / 2,
      text: String(layer),
      font: 'small',
      color: INK,
      anchor: 'end',
    });
  items.push({
    kind: 'text',
    x: MARGIN + normal / 2,
    y: gridY + gridH / 2,
    text: 'layer',
    font: 'normal',
    color: INK,
    anchor: 'middle',
    vertical: true,
  });
  columns.forEach((col, c) => {
    const x = gridX + c * cellW + cellW / 2;
    items.push({
      kind: 'text',
      x,
      y: gridY + gridH + 8 + normal / 2,
      text: col.label,
      font: 'normal',
      color: INK,
      anchor: 'middle',
    });
    items.push({
      kind: 'text',
      x,
      y: gridY + gridH + 8 + normal + small / 2,
      text: col.detail,
      font: 'small',
      color: MUTED,
      anchor: 'middle',
    });
  });
  items.push({
    kind: 'text',
    x: gridX + gridW / 2,
    y: gridY + gridH + 8 + normal + small + 10 + normal / 2,
    text: 'candidate mask (sparsest first)',
    font: 'normal',
    color: INK,
    anchor: 'middle',
  });

  // Colour bar with decade ticks, the thresholds marked on it.
  const steps = 64;
  for (let i = 0; i < steps; i++)
    items.push({
      kind: 'rect',
      x: barX,
      y: gridY + (barH * (steps - 1 - i)) / steps,
      w: BAR_W,
      h: barH / steps + 1,
      fill: viridis((i + 0.5) / steps),
    });
  items.push({ kind: 'rect', x: barX - 1, y: gridY - 1, w: BAR_W + 2, h: barH + 2, stroke: INK });
  const barY = (t: number) => gridY + barH * (1 - t);
  for (let p = scale.lo; p <= scale.hi; p++) {
    const y = barY((p - scale.lo) / (scale.hi - scale.lo));
    items.push({ kind: 'line', x1: barX + BAR_W, y1: y, x2: barX + BAR_W + 4, y2: y, stroke: INK, width: 1 });
    items.push({
      kind: 'text',
      x: barX + BAR_W + 7,
      y,
      text: decade(p),
      font: 'small',
      color: INK,
      anchor: 'start',
    });
  }
  thresholds.forEach(({ r }, k) => {
    const t = scale.t(r);
    if (!(t >= 0 && t <= 1)) return;
    const y = Math.round(barY(t));
    items.push({ kind: 'line', x1: barX - 5, y1: y, x2: barX + BAR_W, y2: y, stroke: CASING, width: 4 });
    items.push({
      kind: 'line',
      x1: barX - 5,
      y1: y,
      x2: barX + BAR_W,
      y2: y,
      stroke: THRESHOLD_COLORS[k % THRESHOLD_COLORS.length]!,
      width: 2,
    });
  });
  items.push({
    kind: 'text',
    x: barX - 6,
    y: gridY - 6 - small / 2,
    text: 'error (log scale)',
    font: 'small',
    color: INK,
    anchor: 'start',
  });

  // Legend: one line per threshold (dot = chosen cell, stripe = contour), and the grey cells.
  legendLines.forEach((line, k) => {
    const y = gridY + k * (normal + 8) + normal / 2;
    const isThreshold = k < thresholds.length;
    if (isThreshold) {
      const color = THRESHOLD_COLORS[k % THRESHOLD_COLORS.length]!;
      items.push({ kind: 'line', x1: legendX, y1: y, x2: legendX + 14, y2: y, stroke: CASING, width: 4 });
      items.push({ kind: 'line', x1: legendX, y1: y, x2: legendX + 14, y2: y, stroke: color, width: 2 });
      items.push({ kind: 'circle', cx: legendX + 22, cy: y, r: 3.2, fill: color, stroke: CASING });
    } else {
      items.push({ kind: 'rect', x: legendX, y: y - 6, w: 26, h: 12, fill: ZERO, stroke: INK });
    }
    items.push({ kind: 'text', x: legendX + 32, y, text: line, font: 'normal', color: INK, anchor: 'start' });
  });
  const noteY = gridY + legendLines.length * (normal + 8) + 6;
  for (const [i, note] of [
    'dot: the cell a threshold chose',
    'stripe: its contour (error <= r inside)',
  ].entries())
    items.push({
      kind: 'text',
      x: legendX,
      y: noteY + i * (small + 4) + small / 2,
      text: note,
      font: 'small',
      color: MUTED,
      anchor: 'start',
    });

  return { width, height, background: [255, 255, 255], items, title: input.title };
}

/** The pictures of a search: one for independent mode, one per threshold (its own path) for cumulative mode. */
export function searchHeatmaps(
  result: SearchResult,
  record: Pick<SearchRecord, 'config' | 'grid'>,
): { readonly name: string; readonly input: HeatmapInput }[] {
  const { config, grid } = record;
  const title = `Layer-wise mask search: ${config.name}, ${grid.frames} x ${grid.height} x ${grid.width} tokens`;
  const about = `noise-prediction error against full attention, mean of ${result.inputs} calibration inputs`;
  const columns = result.candidates.map((c) => ({
    label: c.label,
    detail: `${c.computedBlocks.toLocaleString('en-US')} blocks`,
  }));
  const rowsOf = (rows: readonly LayerMeasurement[]) => rows.map((row) => row.output);
  if (result.mode === 'independent')
    return [
      {
        name: 'errors',
        input: {
          title,
          subtitle: `${about}; independent mode (every other layer full)`,
          columns,
          rows: rowsOf(result.matrix),
          thresholds: result.decisions.map((d) => ({ r: d.threshold, choices: d.choices })),
        },
      },
    ];
  return result.decisions.map((d) => ({
    name: `errors-r${d.threshold}`,
    input: {
      title,
      subtitle: `${about}; cumulative mode (layers above keep their masks), the path of r = ${d.threshold}`,
      columns,
      rows: rowsOf(d.rows),
      thresholds: [{ r: d.threshold, choices: d.choices }],
    },
  }));
}
