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
  const width = 640;
  const rowHeight = 34;
  const left = 230;
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
