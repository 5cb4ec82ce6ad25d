import { ValidationError } from '../shared/core/errors';
import { decodeVersion } from '../shared/core/keys';

/** Where a command's output goes: stdout, stderr, and a progress line redrawn in place on a terminal. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
  env: NodeJS.ProcessEnv;
  /** Redraw a progress line in place (stderr is a terminal). */
  progress?: (line: string) => void;
}

export const EXIT = { ok: 0, findings: 1, error: 2 } as const;

/** Prints a result: JSON with `--json`, else the human text. */
export type Print = (data: unknown, human: () => string, painted?: boolean) => void;

/**
 * Item keys and values are untrusted: a control character in them (an escape
 * sequence, a bell) is shown as `\xNN`, never sent to the terminal. Newlines stay.
 */
export const printable = (text: string): string =>
  text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters refused.
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );

/** JSON escapes control characters itself; human text is made printable (the diff paints its own lines). */
export const printer =
  (io: Io, json: boolean): Print =>
  (data, human, painted = false) =>
    io.out(json ? JSON.stringify(data, null, 2) : painted ? human() : printable(human()));

/** Colours a line; the text is made printable first, so the only escape sequences are the colour's own. */
export const paint = (io: Io, code: number, text: string): string =>
  io.color ? `\u001b[${code}m${printable(text)}\u001b[0m` : printable(text);

/** Columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A whole number option or argument. @throws ValidationError */
export function int(value: string | undefined, name: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new ValidationError(`${name} must be an integer ≥ ${min}, got "${value}"`);
  }
  return Number(value);
}

/**
 * A version as every output writes it, or as a number: `3`, `v3`, or the history key `v0003`.
 * @throws ValidationError
 */
export function versionArg(value: string | undefined, name: string): number {
  const written = /^v(\d{1,16})$/.exec(value ?? '');
  if (written?.[1] !== undefined && !written[1].startsWith('0')) return int(written[1], name) as number;
  if (value?.startsWith('v')) {
    try {
      return decodeVersion(value);
    } catch {
      throw new ValidationError(`${name} must be a version such as 3, v3 or v0003, got "${value}"`);
    }
  }
  return int(value, name) as number;
}

let lastProgress = 0;
/** `[#####-----] 5000/10000 items  1234 items/s  ETA 4s`, on stderr, at most 5 times a second. */
export function progressBar(io: Io, done: number, total: number | undefined, startedMs: number): void {
  const now = Date.now();
  if (!io.progress || now - lastProgress < 200) return;
  lastProgress = now;
  const rate = done / Math.max(0.001, (now - startedMs) / 1000);
  const share = total ? Math.min(1, done / total) : 0;
  const bar = total ? `[${'#'.repeat(Math.round(share * 20)).padEnd(20, '-')}] ` : '';
  const eta = total && rate > 0 ? `  ETA ${Math.max(0, Math.round((total - done) / rate))}s` : '';
  io.progress(`${bar}${done}${total ? `/${total}` : ''} items  ${Math.round(rate)} items/s${eta}`);
}

/** `12000 records read  3400/s`, on stderr, at most 5 times a second. */
export function progressLine(io: Io, unit: string): (p: { records: number }) => void {
  const started = Date.now();
  return (p) => {
    const now = Date.now();
    if (!io.progress || now - lastProgress < 200) return;
    lastProgress = now;
    io.progress(`${p.records} ${unit}  ${Math.round(p.records / Math.max(0.001, (now - started) / 1000))}/s`);
  };
}
