import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `shared/` is grouped by capability, and imports run one way only: a folder
 * may import from those before it in this order, never from one after it.
 */
const ORDER = ['core', 'aws', 'recording', 'reading', 'integrity', 'writing'] as const;
const SHARED = resolve(__dirname, '..', '..', 'shared');

describe('shared/ layout', () => {
  it('has exactly the capability folders, and no loose modules', () => {
    expect(readdirSync(SHARED).sort()).toEqual([...ORDER].sort());
  });

  it.each(ORDER.map((folder, rank) => [folder, rank] as const))(
    '%s imports only from folders before it',
    (folder, rank) => {
      const offending: string[] = [];
      for (const file of readdirSync(join(SHARED, folder))) {
        const text = readFileSync(join(SHARED, folder, file), 'utf8');
        for (const [, target] of text.matchAll(/from '\.\.\/([a-z]+)\//g)) {
          const targetRank = ORDER.indexOf(target as (typeof ORDER)[number]);
          if (targetRank < 0 || targetRank >= rank) offending.push(`${folder}/${file} → ${target}`);
        }
      }
      expect(offending).toEqual([]);
    },
  );
});
