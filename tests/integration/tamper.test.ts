import { type AttributeValue, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { CHAIN_MARKER, GENESIS_HASH } from '../../shared/core/constants';
import type { AttributeMap } from '../../shared/core/types';
import { type Finding, Verifier } from '../../shared/integrity/verify';
import { chainHashV1 } from '../../shared/recording/chain-hash';
import { VersionedTable } from '../../shared/writing/versioned-table';
import {
  createTestTables,
  eventually,
  readHistory,
  readPartition,
  testClient,
  waitForHistory,
} from '../helpers/dynamo';
import { type Pipeline, startPipeline } from '../helpers/pipeline';

const client = testClient();
afterAll(() => client.destroy());

/** A different value of the same type, as an editor with a plain client would write it. */
function edited(value: AttributeValue): AttributeValue {
  if (value.S !== undefined) return { S: `${value.S}x` };
  if (value.N !== undefined) return { N: String(Number(value.N) + 1) };
  if (value.B !== undefined) return { B: new Uint8Array([...value.B, 1]) };
  if (value.L !== undefined) return { L: [...value.L, { S: 'forged' }] };
  if (value.M !== undefined) return { M: { ...value.M, forged: { S: 'yes' } } };
  if (value.BOOL !== undefined) return { BOOL: !value.BOOL };
  return { S: 'forged' };
}

const KEY_ATTRIBUTES = new Set(['itemKey', 'version']);

describe('tampering: verify names every edit of every stored attribute, and the digest moves', () => {
  let tables: TableSet;
  let config: HistoryConfig;
  let pipeline: Pipeline;
  let baseline: string;

  beforeAll(async () => {
    ({ tables, config } = await createTestTables(client));
    pipeline = await startPipeline(client, config);
    const orders = new VersionedTable({
      client,
      tableName: tables.latest,
      keySchema: config.keySchema,
      attributes: config.attributes,
    });
    // A chain with every kind of record: versioned, legacy, tombstone, a re-creation.
    await orders.create({ id: 't1', status: 'new', tags: new Set(['a', 'b']) }, { actor: 'alice' });
    await orders.update(
      { id: 't1' },
      1,
      { status: 'paid', blob: new Uint8Array([1, 2, 3]) },
      { actor: 'bob' },
    );
    await client.send(
      new PutItemCommand({
        TableName: tables.latest,
        Item: { id: { S: 't1' }, status: { S: 'legacy write' }, version: { N: '2' } },
      }),
    );
    await orders.remove({ id: 't1' }, 2);
    await orders.create({ id: 't1', status: 'again' });
    await waitForHistory(client, tables.history, 't1', 5);
    await pipeline.stop();
    const report = await new Verifier({ client, config }).verifyItem('t1');
    expect(report.findings).toEqual([]);
    baseline = report.digest;
  }, 60_000);

  it('holds the chain the test expects', async () => {
    const records = await readHistory(client, tables.history, 't1');
    expect(records.map((r) => [r.versionNumber, r.op, r.source])).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'MODIFY', 'app'],
      [3, 'MODIFY', 'legacy'],
      [4, 'REMOVE', 'app'],
      [5, 'INSERT', 'legacy'],
    ]);
  });

  it('names each edit, removal and addition of every attribute of every record and the marker', async () => {
    const items = await readPartition(client, tables.history, 't1');
    const verifier = new Verifier({ client, config });
    const cases: string[] = [];
    const missed: string[] = [];
    for (const original of items) {
      const where = original.version?.S ?? '?';
      const edits: [string, AttributeMap][] = [];
      for (const [name, value] of Object.entries(original)) {
        if (KEY_ATTRIBUTES.has(name)) continue; // another key is another item: a removal plus an insertion
        edits.push([`edit ${name}`, { ...original, [name]: edited(value) }]);
        const { [name]: _removed, ...rest } = original;
        edits.push([`remove ${name}`, rest]);
      }
      edits.push(['add an attribute', { ...original, note: { S: 'added later' } }]);
      // A bare chain marker (the start slot of a chain whose first record has moved, or began under an
      // earlier release); the start slot otherwise holds the chain's first record, a record like any.
      const bareMarker = original.version?.S === CHAIN_MARKER && original.hash === undefined;
      if (!bareMarker) edits.push(['add expiresAt', { ...original, expiresAt: { N: '1' } }]);
      for (const [what, tampered] of edits) {
        const label = `${where}: ${what}`;
        cases.push(label);
        await client.send(new PutItemCommand({ TableName: tables.history, Item: tampered }));
        try {
          const report = await verifier.verifyItem('t1');
          const version = Number(original.versionNumber?.N);
          const named = report.findings.some((f: Finding) =>
            bareMarker
              ? f.kind.startsWith('marker.')
              : f.version === version ||
                // An edited versionNumber at the start slot moves the record to that version: named there.
                f.version === Number(tampered.versionNumber?.N) ||
                (f.kind === 'record.unreadable' && f.message.includes(where)) ||
                f.kind.startsWith('marker.'),
          );
          // The digest leaves out expiresAt, as the hash does: retention sets it.
          const digestMoves = what === 'add expiresAt' || report.digest !== baseline;
          if (!named || !digestMoves) missed.push(`${label} → ${JSON.stringify(report.findings)}`);
        } finally {
          await client.send(new PutItemCommand({ TableName: tables.history, Item: original }));
        }
      }
    }
    expect(missed).toEqual([]);
    process.stdout.write(`TAMPER CASES ${cases.length} tried, ${cases.length - missed.length} named\n`);
    expect(cases.length).toBeGreaterThan(80);
    const after = await verifier.verifyItem('t1');
    expect(after.findings).toEqual([]);
    expect(after.digest).toBe(baseline);
  }, 120_000);

  it('an edited head stops the writer: the next change is parked, never dropped as a duplicate', async () => {
    const [head] = (await readPartition(client, tables.history, 't1')).filter(
      (i) => i.version?.S === 'v0005',
    );
    if (!head) throw new Error('no head');
    // A forged, huge sequence number would make every later change look like a replay.
    await client.send(
      new PutItemCommand({
        TableName: tables.history,
        Item: { ...head, sequenceNumber: { S: '9'.repeat(40) } },
      }),
    );
    const checkpoint = pipeline.checkpoint;
    const resumed = await startPipeline(client, config, { checkpoint });
    try {
      await client.send(
        new PutItemCommand({
          TableName: tables.latest,
          Item: { id: { S: 't1' }, status: { S: 'after the forgery' }, version: { N: '2' } },
        }),
      );
      const parked = await eventually(async () => {
        const items = (await resumedFailures(tables.failures)).filter((i) => i.itemKey?.S === 't1');
        return items.length > 0 ? items : undefined;
      });
      expect(parked[0]?.errorCode?.S).toBe('integrity');
      expect((await readHistory(client, tables.history, 't1')).length).toBe(5);
      const report = await new Verifier({ client, config }).verifyItem('t1');
      expect(report.findings.map((f) => f.kind)).toEqual(
        expect.arrayContaining(['hash.mismatch', 'latest.mismatch']),
      );
    } finally {
      await resumed.stop();
    }
  }, 60_000);
});

async function resumedFailures(table: string): Promise<AttributeMap[]> {
  return (await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
}

describe('chains written in hash format 1 keep verifying', () => {
  it('verifies a format-1 chain clean, names an edit of a hashed field, and chains format 2 onto it', async () => {
    const { tables, config } = await createTestTables(client);
    const recordedAt = '2026-01-01T00:00:00.000Z';
    const image = { id: { S: 'old' }, version: { N: '1' } };
    // A record as the writer stored it before format 2: no format, no prevVersion.
    const hash = chainHashV1({
      itemKey: 'old',
      versionNumber: 1,
      op: 'INSERT',
      image,
      recordedAt,
      prevHash: GENESIS_HASH,
    });
    const v1: AttributeMap = {
      itemKey: { S: 'old' },
      version: { S: 'v0001' },
      versionNumber: { N: '1' },
      timeKey: { S: `${recordedAt}#v0001` },
      op: { S: 'INSERT' },
      source: { S: 'app' },
      recordedAt: { S: recordedAt },
      prevHash: { S: GENESIS_HASH },
      hash: { S: hash },
      changed: { L: [] },
      eventId: { S: 'e-old-1' },
      image: { M: image },
    };
    await client.send(new PutItemCommand({ TableName: tables.history, Item: v1 }));
    await client.send(
      new PutItemCommand({
        TableName: tables.history,
        Item: { itemKey: { S: 'old' }, version: { S: CHAIN_MARKER }, startedBy: { S: 'e-old-1' } },
      }),
    );
    const verifier = new Verifier({ client, config });
    // The chain itself is clean; only the comparison with the (empty) latest table speaks.
    expect((await verifier.verifyItem('old')).findings.map((f) => f.kind)).toEqual([
      'latest.deleteNotRecorded',
    ]);

    await client.send(
      new PutItemCommand({
        TableName: tables.history,
        Item: { ...v1, image: { M: { ...image, x: { S: '1' } } } },
      }),
    );
    expect((await verifier.verifyItem('old')).findings.map((f) => f.kind)).toContain('hash.mismatch');
    // A record of the same content under another hash: the edit of the hash itself is named too.
    await client.send(
      new PutItemCommand({ TableName: tables.history, Item: { ...v1, hash: { S: 'f'.repeat(64) } } }),
    );
    expect((await verifier.verifyItem('old')).findings.map((f) => f.kind)).toContain('hash.mismatch');
    await client.send(new PutItemCommand({ TableName: tables.history, Item: v1 }));

    const pipeline = await startPipeline(client, config);
    try {
      await client.send(
        new PutItemCommand({ TableName: tables.latest, Item: { id: { S: 'old' }, version: { N: '2' } } }),
      );
      const records = await waitForHistory(client, tables.history, 'old', 2);
      expect(records.map((r) => [r.versionNumber, r.format ?? 1, r.prevVersion])).toEqual([
        [1, 1, undefined],
        [2, 2, 1],
      ]);
    } finally {
      await pipeline.stop();
    }
    expect((await verifier.verifyItem('old')).findings).toEqual([]);
  }, 60_000);
});
