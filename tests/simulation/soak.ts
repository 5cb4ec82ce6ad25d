/**
 * `npm run soak -- --seeds N [--from S]`: runs the simulation for seeds S … S+N−1
 * (default 1 … 200) on its own in-memory DynamoDB Local, prints each failing
 * seed with what went wrong, and exits 1 if any failed. A failing seed replays
 * with `--seeds 1 --from <seed>`.
 */
import { parseArgs } from 'node:util';
import { freePort, startDynamoLocal } from '../../local/dynamodb-local';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, from: { type: 'string' } } });
  const count = Number(values.seeds ?? 200);
  const from = Number(values.from ?? 1);
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(from) || from < 0) {
    process.stderr.write('usage: npm run soak -- --seeds N [--from S]\n');
    return 2;
  }
  const local = await startDynamoLocal({ port: await freePort(), inMemory: true });
  process.env.DYNAMODB_TEST_ENDPOINT = local.endpoint;
  // Imported after the endpoint is set: the harness builds its clients from it.
  const { runSeed } = await import('./harness');
  const failed: number[] = [];
  let records = 0;
  let tampered = 0;
  const coverage: Record<string, number> = {};
  const started = Date.now();
  try {
    for (let seed = from; seed < from + count; seed++) {
      const result = await runSeed(seed);
      records += result.records;
      tampered += result.tampered;
      for (const [k, v] of Object.entries(result.coverage)) coverage[k] = (coverage[k] ?? 0) + v;
      if (result.problems.length > 0) {
        failed.push(seed);
        process.stdout.write(
          `seed ${seed} FAILED\n${result.problems.join('\n')}\n  ${result.operations.join('\n  ')}\n`,
        );
      } else if ((seed - from + 1) % 25 === 0) {
        process.stdout.write(`${seed - from + 1}/${count} seeds, ${failed.length} failed\n`);
      }
    }
  } finally {
    await local.stop();
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(
    `${count} seeds from ${from}: ${count - failed.length} passed, ${failed.length} failed` +
      `${failed.length ? ` (${failed.join(', ')})` : ''}; ${records} records checked, ${tampered} tamperings; ${seconds} s\n` +
      `exercised ${JSON.stringify(coverage)}\n`,
  );
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(2);
  },
);
