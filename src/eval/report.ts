// A self-contained HTML report people read: the run's settings, the headline metrics, per-class
// accuracy bars and the confusion matrix as a PNG (drawn as SVG, rasterised by sharp, embedded
// as a data URI), so the file can be mailed or archived with nothing else.

import { writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { classMetrics, type ClassificationMetrics } from '../metrics.js';

export interface ReportInput {
  title: string;
  /** The run's settings, shown as a table. */
  settings: Record<string, unknown>;
  /** Headline numbers (fractions are shown as percentages). */
  metrics: Record<string, number | string>;
  classification?: ClassificationMetrics;
  /** Further tables: a caption and rows of cells (e.g. the C sweep, recall by direction). */
  tables?: { caption: string; header: string[]; rows: (string | number)[][] }[];
}

const escapeHtml = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)}%`);

/** The confusion matrix [true][predicted] as an SVG: row-normalised shading, counts in the cells. */
function confusionSvg(confusion: number[][], classes: readonly string[]): string {
  const k = classes.length;
  const cell = Math.max(14, Math.min(48, Math.floor(720 / Math.max(k, 1))));
  const label = Math.min(160, 8 + 7 * Math.max(...classes.map((c) => c.length), 4));
  const size = label + k * cell;
  const parts: string[] = [];
  const font = `font-family="DejaVu Sans, Arial, sans-serif" font-size="${Math.min(12, cell / 2.5).toFixed(1)}"`;
  confusion.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, p) => {
      const share = count / total;
      const light = Math.round(255 - 200 * share);
      const [x, y] = [label + p * cell, label + t * cell];
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="rgb(${light},${light},255)" stroke="#ccc"/>`,
      );
      if (cell >= 20 && count) {
        const colour = share > 0.6 ? '#fff' : '#000';
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" fill="${colour}" ${font}>` +
            `${count}</text>`,
        );
      }
    });
    parts.push(
      `<text x="${label - 4}" y="${label + t * cell + cell / 2 + 4}" text-anchor="end" ${font}>` +
        `${escapeHtml(classes[t])}</text>`,
    );
  });
  classes.forEach((c, p) => {
    const [x, y] = [label + p * cell + cell / 2 + 4, label - 4];
    parts.push(`<text x="${x}" y="${y}" transform="rotate(-60 ${x} ${y})" ${font}>${escapeHtml(c)}</text>`);
  });
  const width = size + Math.round(label / 2); // room for the last rotated column name
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${size}">` +
    `<rect width="100%" height="100%" fill="#fff"/>${parts.join('')}</svg>`
  );
}

/** PNG bytes of the confusion matrix. */
export async function confusionPng(confusion: number[][], classes: readonly string[]): Promise<Buffer> {
  return sharp(Buffer.from(confusionSvg(confusion, classes)))
    .png()
    .toBuffer();
}

function table(caption: string, header: string[], rows: (string | number)[][]): string {
  const head = header.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<h2>${escapeHtml(caption)}</h2>\n<table><tr>${head}</tr>\n${body}</table>`;
}

function classSection(m: ClassificationMetrics, png: Buffer): string {
  const bars = m.classes
    .map((name) => {
      const { accuracy, n } = classMetrics(m, name);
      const width = ((accuracy ?? 0) * 100).toFixed(1);
      return (
        `<tr><td>${escapeHtml(name)}</td><td class="bar"><div style="width:${width}%"></div></td>` +
        `<td>${pct(accuracy)}</td><td>${n}</td></tr>`
      );
    })
    .join('\n');
  const header = '<tr><th>class</th><th></th><th>accuracy</th><th>n</th></tr>';
  return `<h2>Per-class accuracy</h2>\n<table>${header}\n${bars}</table>
<h2>Confusion matrix</h2><p>rows: true class, columns: predicted class (shading: share of the row)</p>
<img alt="confusion matrix" src="data:image/png;base64,${png.toString('base64')}">`;
}

export async function renderReport(input: ReportInput): Promise<string> {
  const metrics = Object.entries(input.metrics).map(
    ([k, v]) => [k, typeof v === 'number' && v <= 1 && !/rank|^n/.test(k) ? pct(v) : v] as [string, string | number],
  );
  const settings = Object.entries(input.settings)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)] as [string, string]);
  const sections = [
    table('Results', ['metric', 'value'], metrics),
    ...(input.tables ?? []).map((t) => table(t.caption, t.header, t.rows)),
    ...(input.classification
      ? [
          classSection(
            input.classification,
            await confusionPng(input.classification.confusion, input.classification.classes),
          ),
        ]
      : []),
    table('Settings', ['setting', 'value'], settings),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border-bottom: 1px solid #ddd; padding: 0.25em 0.8em; text-align: left; }
td.bar { width: 20em; } td.bar div { background: #4a6fd6; height: 0.9em; }
img { max-width: 100%; }
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
${sections.join('\n')}
</body></html>
`;
}

export async function writeReport(path: string, input: ReportInput): Promise<void> {
  writeFileSync(path, await renderReport(input));
}
