/** Minimal, dependency-free SVG bar charts for the README. */
export interface Bar {
  label: string;
  value: number;
  /** Optional whisker: min and max across rounds. */
  min?: number;
  max?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChart(title: string, unit: string, bars: Bar[]): string {
  const rowHeight = 34;
  // Room for the longest label (about 7 px a character at 13 px), and the bars beside it.
  const left = Math.max(230, 16 + 7 * Math.max(...bars.map((b) => b.label.length)));
  const width = left + 410;
  const top = 40;
  const height = top + bars.length * rowHeight + 20;
  const max = Math.max(...bars.map((b) => b.max ?? b.value), 1e-9);
  const scale = (v: number) => ((width - left - 90) * v) / max;
  const rows = bars
    .map((b, i) => {
      const y = top + i * rowHeight;
      const whisker =
        b.min !== undefined && b.max !== undefined
          ? `<line x1="${left + scale(b.min)}" x2="${left + scale(b.max)}" y1="${y + 11}" y2="${y + 11}" stroke="#333" stroke-width="1.5"/>`
          : '';
      return (
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="13">${esc(b.label)}</text>` +
        `<rect x="${left}" y="${y}" width="${Math.max(1, scale(b.value))}" height="22" fill="#4a7ab8"/>${whisker}` +
        `<text x="${left + scale(b.max ?? b.value) + 6}" y="${y + 15}" font-size="12">${b.value.toFixed(b.value < 10 ? 2 : 0)} ${esc(unit)}</text>`
      );
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="24" font-size="15" font-weight="bold">${esc(title)}</text>
${rows}
</svg>
`;
}

export interface Series {
  label: string;
  values: number[];
}

/** A line chart of a few series over labelled points (NaN values are left out). */
export function lineChart(title: string, unit: string, labels: string[], series: Series[]): string {
  const width = 640;
  const height = 300;
  const left = 70;
  const right = 100;
  const top = 40;
  const bottom = 40;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const max = Math.max(...all, 1);
  const x = (i: number) => left + ((width - left - right) * i) / Math.max(1, labels.length - 1);
  const y = (v: number) => height - bottom - ((height - top - bottom) * v) / max;
  const colours = ['#4a7ab8', '#c0504d', '#9bbb59'];
  const lines = series
    .map((s, k) => {
      const points = s.values
        .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : ''))
        .filter(Boolean)
        .join(' ');
      const last = s.values.reduce((at, v, i) => (Number.isFinite(v) ? i : at), -1);
      return (
        `<polyline fill="none" stroke="${colours[k % colours.length]}" stroke-width="2" points="${points}"/>` +
        (last >= 0
          ? `<text x="${x(last) + 6}" y="${y(s.values[last] as number) + 4 + 14 * k}" font-size="12" fill="${colours[k % colours.length]}">${esc(s.label)} ${Math.round(s.values[last] as number)} ${esc(unit)}</text>`
          : '')
      );
    })
    .join('\n');
  const ticks = labels
    .map(
      (l, i) =>
        `<text x="${x(i)}" y="${height - bottom + 18}" text-anchor="middle" font-size="11">${esc(l)}</text>`,
    )
    .join('\n');
  const axis = [0, 0.5, 1]
    .map(
      (f) =>
        `<text x="${left - 8}" y="${y(max * f) + 4}" text-anchor="end" font-size="11">${Math.round(max * f)} ${esc(unit)}</text>`,
    )
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="24" font-size="15" font-weight="bold">${esc(title)}</text>
<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#999"/>
<line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="#999"/>
${axis}
${ticks}
${lines}
</svg>
`;
}
