import { runSeed } from './harness';

/**
 * The model-checked simulation (issue 10): seeded random mixes of versioned,
 * plain, skipping and backwards writes, deletes, re-creations and TTL-style
 * deletes, rollbacks (to tombstones too), mapping pauses, throttled and
 * redelivered batches, backfill and repair at random moments, and tampering,
 * each checked against the reference model in `model.ts`. A failure prints its
 * seed; `npm run soak -- --seeds 1 --from <seed>` replays it.
 */
const SEEDS = Number(process.env.SIMULATION_SEEDS ?? 40);

/** Seeds that failed while the simulation was being built, kept as named regressions. */
const REGRESSIONS: Record<string, number> = {
  // A change a backfill snapshot covered was redelivered after history had moved past the snapshot:
  // it was recorded again, at the end (the snapshot no longer at the head to recognise it).
  'a covered change, redelivered after the chain moved on, is not recorded again': 52,
  // The model took `latest.noHistory` for a false alarm: an item that predates the stream and that no
  // one wrote or backfilled has no history yet. Each run now ends with a backfill, as adoption does.
  'an item from before the stream, never written, has history after the final backfill': 167,
};

describe('simulation against the reference model', () => {
  const totals = { records: 0, tampered: 0 };
  const coverage: Record<string, number> = {};
  afterAll(() => {
    process.stdout.write(
      `SIMULATION ${SEEDS} seeds, ${totals.records} records checked, ${totals.tampered} tamperings named; ` +
        `exercised ${JSON.stringify(coverage)}\n`,
    );
  });

  const regressions = Object.entries(REGRESSIONS);
  if (regressions.length > 0) {
    it.each(regressions)(
      'regression %s (seed %i)',
      async (_name, seed) => {
        const result = await runSeed(seed);
        expect(result.problems).toEqual([]);
      },
      60_000,
    );
  }

  it.each(Array.from({ length: SEEDS }, (_, i) => i + 1))(
    'seed %i',
    async (seed) => {
      const result = await runSeed(seed);
      totals.records += result.records;
      totals.tampered += result.tampered;
      for (const [k, v] of Object.entries(result.coverage)) coverage[k] = (coverage[k] ?? 0) + v;
      if (result.problems.length > 0) {
        throw new Error(
          `seed ${seed} failed (replay: npm run soak -- --seeds 1 --from ${seed})\n${result.problems.join('\n')}\noperations:\n  ${result.operations.join('\n  ')}`,
        );
      }
      expect(result.problems).toEqual([]);
    },
    60_000,
  );
});
