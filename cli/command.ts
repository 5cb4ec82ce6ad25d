import type { Io } from './io';
import type { CommonOptions } from './session';

/** One CLI command: its arguments, its own options, and what it runs. main.ts turns it into commander's. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** Required positional arguments, in order. */
  args: { name: string; description: string }[];
  /** Its own options, as commander flags (`--limit <n>`, `--dry-run`); `--json`, `--stage` and `--table` come with every command. */
  options: { flags: string; description: string }[];
  /** `--table` may be repeated (init attaches several). */
  manyTables?: boolean;
  /** Help text after the options. */
  more?: string;
  run(io: Io, args: string[], options: CommonOptions & Record<string, unknown>): Promise<number>;
}

/** An option's value as the string commander parsed, or undefined. */
export const opt = (options: Record<string, unknown>, name: string): string | undefined => {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
};
