import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { Repairer } from '../../shared/integrity/repair';
import { Verifier } from '../../shared/integrity/verify';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { createTestTables, readHistory, testClient } from '../helpers/dynamo';
import { N, S, streamRecord } from '../helpers/stream-records';

// Forged events sent straight to writeHistory (README, "Threat model"): refused, parked under their
// item, named by verify as refused, and never recorded by a later repair.
const client = testClient();
const ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-11-30T10:00:00.000';
let tables: TableSet;
let config: HistoryConfig;

beforeAll(async () => {
  ({ tables, config } = await createTestTables(client));
});
afterAll(() => client.destroy());

const now = () => Math.floor(Date.now() / 1000);
const record = (id: string, spec: Parameters<typeof streamRecord>[0] = {}) =>
  streamRecord({ keys: { id: S(id) }, newImage: { id: S(id), version: N(1) }, arn: ARN, at: now(), ...spec });

it('parks forged records, names them in verify, and repair never re-drives them', async () => {
  const writer = new HistoryWriter({ client, config, trust: { streamArn: ARN } });
  const forged = [
    record('ghost-arn', { arn: ARN.replace('Orders', 'Other') }),
    record('ghost-2100', { at: 4_102_444_800 }),
    record('ghost-old', { at: now() - 26 * 3600 }),
    record('ghost-ttl', { op: 'REMOVE', ttl: true, arn: 'arn:aws:dynamodb:us-east-1:1:table/x/stream/y' }),
  ];
  const real = record('real-1');
  const result = await writer.recordBatch([...forged, real].map((r) => JSON.parse(JSON.stringify(r))));
  expect(result.stats).toMatchObject({ received: 5, recorded: 1, parked: 4, retried: 0 });

  const report = await new Verifier({ client, config }).verifyAll();
  const parked = report.findings.filter((f) => f.kind === 'record.parked');
  expect(parked.map((f) => f.itemKey).sort()).toEqual(['ghost-2100', 'ghost-arn', 'ghost-old', 'ghost-ttl']);
  for (const f of parked) expect(f.message).toMatch(/did not come from the recorded stream/);

  const repaired = await new Repairer({ client, config }).repair({ settleMs: 100 });
  expect(
    repaired.actions
      .filter((a) => a.kind === 'redrive')
      .map((a) => [a.itemKey, a.outcome])
      .sort(),
  ).toEqual([
    ['ghost-2100', 'untrusted'],
    ['ghost-arn', 'untrusted'],
    ['ghost-old', 'untrusted'],
    ['ghost-ttl', 'untrusted'],
  ]);
  for (const id of ['ghost-arn', 'ghost-2100', 'ghost-old', 'ghost-ttl'])
    expect(await readHistory(client, tables.history, id)).toEqual([]);
  expect((await readHistory(client, tables.history, 'real-1')).map((r) => r.version)).toEqual(['v0001']);
});
