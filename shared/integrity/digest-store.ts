import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValidationError } from '../core/errors';

/** Where signed digests are kept: write-once, out of reach of history's writers. */
export interface DigestStore {
  /** Stores a new digest under a new name; never replaces one. Returns where it went. */
  put(name: string, text: string): Promise<string>;
  get(name: string): Promise<string>;
  /** The newest digest's name (names sort by time), if any. */
  latest(): Promise<string | undefined>;
}

/** A digest's name: its time, so names sort as digests were taken. */
export const digestName = (takenAt: Date): string => `${takenAt.toISOString().replace(/[:.]/g, '-')}.json`;

const NAME = /^[0-9T-]+Z\.json$/;

/**
 * A local folder of digests. Each is created exclusively (never over another) and
 * made read-only. That keeps honest mistakes out; against an attacker on the same
 * machine only a store like S3 Object Lock holds (README, "Signed digests").
 */
export class DirectoryDigestStore implements DigestStore {
  constructor(private readonly dir: string) {}

  async put(name: string, text: string): Promise<string> {
    if (!NAME.test(name)) throw new ValidationError(`not a digest name: ${name}`);
    mkdirSync(this.dir, { recursive: true });
    const path = join(this.dir, name);
    writeFileSync(path, text, { flag: 'wx', mode: 0o444 });
    chmodSync(path, 0o444);
    return path;
  }

  async get(name: string): Promise<string> {
    if (!NAME.test(name)) throw new ValidationError(`not a digest name: ${name}`);
    return readFileSync(join(this.dir, name), 'utf8');
  }

  async latest(): Promise<string | undefined> {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => NAME.test(n));
    } catch {
      return undefined;
    }
    return names.sort().at(-1);
  }
}
