/**
 * Two small SVG plots for run directories: training curves and a confusion
 * matrix. Hand-written (about 250 lines) rather than a charting library:
 * vega/vega-lite or d3 + jsdom would add megabytes of dependencies (and a
 * DOM) to an addon package for two static charts; the output here is plain
 * SVG 1.1 that browsers, image viewers and rsvg-convert all render.
 */

export interface Series {
  name: string;
  /** [x, y] points; NaN y values are skipped. */
  points: Array<[number, number]>;
  color: string;
  dashed?: boolean;
  /** Draw a dot at each point (for per-epoch values). */
  markers?: boolean;
  /** Thin and translucent (for noisy per-step values). */
  faint?: boolean;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
  /** Fixed y range; otherwise from the data, clipped to `yLimits`. */
  yRange?: [number, number];
  /** Bounds the automatic range may not cross, e.g. [0, 100] for a percentage. */
  yLimits?: [number, number];
  /** Corner of the legend: put it where the curves are not (default top). */
  legend?: 'top' | 'bottom';
}

export const COLORS = { train: '#1f77b4', eval: '#d62728', trainFaint: '#7fb3d9' } as const;

const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(0);
  return Number(v.toPrecision(3)).toString();
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function panelSvg(panel: Panel, xLabel: string, x0: number, y0: number, width: number, height: number): string {
  const left = 62;
  const right = 12;
  const top = 30;
  const bottom = 44;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const points = panel.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y)));
  const out: string[] = [`<g transform="translate(${x0},${y0})">`];
  out.push(`<text x="${left + pw / 2}" y="18" text-anchor="middle" font-size="15" font-weight="bold" ${FONT}>${escapeXml(panel.title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="#ffffff" stroke="#444444"/>`);
  if (points.length === 0) {
    out.push(`<text x="${left + pw / 2}" y="${top + ph / 2}" text-anchor="middle" font-size="13" fill="#666666" ${FONT}>no data yet</text>`, '</g>');
    return out.join('\n');
  }
  let xMin = Math.min(0, ...points.map((p) => p[0]));
  let xMax = Math.max(...points.map((p) => p[0]));
  if (xMax <= xMin) xMax = xMin + 1;
  const xTicks = niceTicks(xMin, xMax, 6);
  xMax += (xMax - xMin) * 0.02; // room for the last marker
  let [yMin, yMax] = panel.yRange ?? [Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1]))];
  if (!panel.yRange) {
    const pad = (yMax - yMin) * 0.08 || Math.abs(yMax) * 0.1 || 1;
    const [lo, hi] = panel.yLimits ?? [yMin >= 0 ? 0 : -Infinity, Infinity];
    yMin = Math.max(lo, yMin - pad);
    yMax = Math.min(hi, yMax + pad);
    if (yMax <= yMin) yMax = yMin + 1;
  }
  xMin = Math.min(xMin, xTicks[0]!);
  const sx = (x: number) => left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => top + ph - ((y - yMin) / (yMax - yMin)) * ph;
  for (const t of niceTicks(yMin, yMax, 5)) {
    if (t < yMin - 1e-12 || t > yMax + 1e-12) continue;
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${num(sy(t))}" y2="${num(sy(t))}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${left - 6}" y="${num(sy(t) + 4)}" text-anchor="end" font-size="11" ${FONT}>${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    if (t < xMin - 1e-12 || t > xMax + 1e-12) continue;
    out.push(`<line x1="${num(sx(t))}" x2="${num(sx(t))}" y1="${top}" y2="${top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${num(sx(t))}" y="${top + ph + 16}" text-anchor="middle" font-size="11" ${FONT}>${formatTick(t)}</text>`);
  }
  out.push(`<text x="${left + pw / 2}" y="${height - 8}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(xLabel)}</text>`);
  out.push(`<text transform="translate(16,${top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(panel.yLabel)}</text>`);
  for (const s of panel.series) {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    if (pts.length === 0) continue;
    const width = s.faint ? 1 : 2;
    const opacity = s.faint ? 0.7 : 1;
    const dash = s.dashed ? ' stroke-dasharray="6,4"' : '';
    if (pts.length > 1) {
      const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${num(sx(x))},${num(sy(y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${width}" stroke-opacity="${opacity}"${dash}/>`);
    }
    if (s.markers || pts.length === 1) {
      for (const [x, y] of pts) out.push(`<circle cx="${num(sx(x))}" cy="${num(sy(y))}" r="3.5" fill="${s.color}"/>`);
    }
  }
  // Legend, top right inside the plot.
  const shown = panel.series.filter((s) => s.points.some(([, y]) => Number.isFinite(y)));
  const lw = Math.max(...shown.map((s) => s.name.length)) * 6.6 + 40;
  const lx = left + pw - lw - 6;
  const lh = shown.length * 17 + 6;
  const ly = panel.legend === 'bottom' ? top + ph - lh - 6 : top + 6;
  out.push(`<rect x="${num(lx)}" y="${ly}" width="${num(lw)}" height="${lh}" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`);
  shown.forEach((s, i) => {
    const y = ly + 12 + i * 17;
    const dash = s.dashed ? ' stroke-dasharray="6,4"' : '';
    out.push(`<line x1="${num(lx + 6)}" x2="${num(lx + 30)}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="${s.faint ? 1 : 2}"${dash}/>`);
    out.push(`<text x="${num(lx + 36)}" y="${y}" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');
  return out.join('\n');
}

/** Panels side by side under one title. */
export function lineChartsSvg(title: string, subtitle: string, panels: Panel[], xLabel: string): string {
  const pw = 460;
  const ph = 330;
  const width = pw * panels.length;
  const height = ph + 52;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="17" font-weight="bold" ${FONT}>${escapeXml(title)}</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" font-size="12" fill="#555555" ${FONT}>${escapeXml(subtitle)}</text>`,
    ...panels.map((p, i) => panelSvg(p, xLabel, i * pw, 50, pw, ph)),
    '</svg>',
  ];
  return `${out.join('\n')}\n`;
}

/** White -> dark blue for a fraction in [0, 1]. */
function heat(f: number): string {
  const t = Math.max(0, Math.min(1, f)) ** 0.7;
  const c = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`;
}

export interface ConfusionPlot {
  title: string;
  subtitle: string;
  /** counts[true][predicted] */
  counts: number[][];
  classNames: string[];
}

/**
 * Row-normalised confusion matrix (rows: true class, columns: predicted),
 * cell counts written in when there are at most 20 classes, with each
 * class's recall (per-class accuracy) on the right.
 */
export function confusionSvg(plot: ConfusionPlot): string {
  const k = plot.counts.length;
  const cell = k <= 10 ? 46 : k <= 20 ? 30 : Math.max(9, Math.floor(640 / k));
  const labelWidth = Math.min(150, Math.max(...plot.classNames.map((n) => n.length)) * 7 + 14);
  const fontSize = cell >= 30 ? 11 : Math.max(6, Math.floor(cell * 0.75));
  const left = labelWidth + 34;
  const top = 76 + labelWidth;
  const grid = cell * k;
  const accWidth = 70;
  const width = Math.max(left + grid + accWidth + 90, 520);
  const height = top + grid + 40;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold" ${FONT}>${escapeXml(plot.title)}</text>`,
    `<text x="${width / 2}" y="44" text-anchor="middle" font-size="12" fill="#555555" ${FONT}>${escapeXml(plot.subtitle)}</text>`,
    `<text x="${left + grid / 2}" y="66" text-anchor="middle" font-size="13" ${FONT}>predicted class</text>`,
    `<text transform="translate(16,${top + grid / 2}) rotate(-90)" text-anchor="middle" font-size="13" ${FONT}>true class</text>`,
  ];
  const rows = plot.counts.map((r) => r.reduce((a, b) => a + b, 0));
  for (let i = 0; i < k; i++) {
    const name = escapeXml(plot.classNames[i] ?? String(i));
    out.push(`<text x="${left - 6}" y="${num(top + i * cell + cell / 2 + fontSize / 3)}" text-anchor="end" font-size="${fontSize}" ${FONT}>${name}</text>`);
    const cx = left + i * cell + cell / 2 + fontSize / 3;
    out.push(`<text transform="translate(${num(cx)},${top - 6}) rotate(-90)" font-size="${fontSize}" ${FONT}>${name}</text>`);
    for (let j = 0; j < k; j++) {
      const n = plot.counts[i]![j]!;
      const f = rows[i]! > 0 ? n / rows[i]! : 0;
      out.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${heat(f)}" stroke="#dddddd" stroke-width="0.5"/>`);
      if (k <= 20 && n > 0) {
        const color = f > 0.45 ? '#ffffff' : '#222222';
        out.push(
          `<text x="${num(left + j * cell + cell / 2)}" y="${num(top + i * cell + cell / 2 + 4)}" text-anchor="middle" font-size="${k <= 10 ? 11 : 9}" fill="${color}" ${FONT}>${n}</text>`,
        );
      }
    }
    const recall = rows[i]! > 0 ? (100 * plot.counts[i]![i]!) / rows[i]! : NaN;
    out.push(
      `<text x="${left + grid + 10}" y="${num(top + i * cell + cell / 2 + fontSize / 3)}" font-size="${fontSize}" ${FONT}>${Number.isFinite(recall) ? `${recall.toFixed(1)}%` : 'n/a'}</text>`,
    );
  }
  out.push(`<text x="${left + grid + 10}" y="${top - 8}" font-size="11" font-weight="bold" ${FONT}>accuracy</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${grid}" height="${grid}" fill="none" stroke="#444444"/>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
