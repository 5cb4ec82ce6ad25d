import type { HistoryConfig } from '../../shared/core/config';
import { ItemNotFoundError, ValidationError, VersionNotFoundError } from '../../shared/core/errors';
import { HistoryReader } from '../../shared/reading/audit';
import { createTestTables, testClient } from '../helpers/dynamo';
import { seedHistory } from '../helpers/history';

const client = testClient();
let config: HistoryConfig;
let reader: HistoryReader;
const START = Date.parse('2026-01-01T00:00:00.000Z');
const DEEP = 10_001;
const at = (version: number, offsetMs = 0) => new Date(START + (version - 1) * 1000 + offsetMs).toISOString();

beforeAll(async () => {
  ({ config } = await createTestTables(client));
  reader = new HistoryReader({ client, config });
  await seedHistory(client, config, 'deep', DEEP, START);
  await seedHistory(client, config, 'short', 10, START, 6);
}, 120_000);
afterAll(() => client.destroy());

const SECRET = 'x'.repeat(40);

describe('HistoryReader on DynamoDB Local', () => {
  it('gets one version, past 9999 too', async () => {
    expect((await reader.getVersion('deep', 3)).image?.counter).toEqual({ N: '30' });
    const v = await reader.getVersion('deep', 10_000);
    expect(v.version).toBe('va10000');
    expect(v.image?.counter).toEqual({ N: '100000' });
  });

  it('tells an unknown version from an unknown item', async () => {
    await expect(reader.getVersion('deep', DEEP + 1)).rejects.toBeInstanceOf(VersionNotFoundError);
    await expect(reader.getVersion('nobody', 1)).rejects.toBeInstanceOf(ItemNotFoundError);
  });

  it('pages through more than 10,000 versions in order, forwards and backwards', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await reader.listVersions('deep', { limit: 1000, cursor });
      seen.push(...page.items.map((r) => r.versionNumber));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: DEEP }, (_, i) => i + 1));
    expect(pages).toBeGreaterThanOrEqual(11);

    const desc = await reader.listVersions('deep', { limit: 3, order: 'desc' });
    expect(desc.items.map((r) => r.versionNumber)).toEqual([10_001, 10_000, 9999]);
    const next = await reader.listVersions('deep', { limit: 3, order: 'desc', cursor: desc.cursor });
    expect(next.items.map((r) => r.versionNumber)).toEqual([9998, 9997, 9996]);
  });

  it('lists a version range across the v9999 boundary', async () => {
    const page = await reader.listVersions('deep', { from: 9998, to: 10_001 });
    expect(page.items.map((r) => r.version)).toEqual(['v9998', 'v9999', 'va10000', 'va10001']);
    expect(page.cursor).toBeUndefined();
  });

  it('rejects forged, foreign and mismatched cursors with a ValidationError', async () => {
    const { cursor } = await reader.listVersions('deep', { limit: 2 });
    if (!cursor) throw new Error('expected a cursor');
    const [body, mac] = cursor.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ k: 'deep', v: 'v0500', o: 'asc' })).toString('base64url');
    const bad = [
      'garbage',
      `${forgedBody}.${mac}`,
      `${body}.${'A'.repeat(mac?.length ?? 22)}`,
      `${body}`,
      `${body}.${mac}.extra`,
      '.'.repeat(3000),
    ];
    for (const c of bad)
      await expect(reader.listVersions('deep', { limit: 2, cursor: c })).rejects.toBeInstanceOf(
        ValidationError,
      );
    // A real cursor is bound to its item, order and range.
    await expect(reader.listVersions('short', { limit: 2, cursor })).rejects.toBeInstanceOf(ValidationError);
    await expect(reader.listVersions('deep', { limit: 2, cursor, order: 'desc' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(reader.listVersions('deep', { limit: 2, cursor, from: 1 })).rejects.toBeInstanceOf(
      ValidationError,
    );
    // ... and to its table: the same secret and item key in another recorded table's history is refused.
    const other = new HistoryReader({
      client,
      config: { ...reader.config, historyTableName: `${reader.config.historyTableName}-other` },
      cursorSecret: SECRET,
    });
    const mine = new HistoryReader({ client, config: reader.config, cursorSecret: SECRET });
    const signed = (await mine.listVersions('deep', { limit: 2 })).cursor;
    expect((await mine.listVersions('deep', { limit: 2, cursor: signed })).items).toHaveLength(2);
    await expect(other.listVersions('deep', { limit: 2, cursor: signed })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('finds the version in force at an instant with one indexed query, whatever the depth', async () => {
    expect((await reader.asOf('deep', at(1))).versionNumber).toBe(1);
    expect((await reader.asOf('deep', at(5000, 999))).versionNumber).toBe(5000);
    expect((await reader.asOf('deep', at(10_001))).versionNumber).toBe(10_001);
    expect((await reader.asOf('deep', '2030-01-01T00:00:00Z')).versionNumber).toBe(10_001);
    await expect(reader.asOf('deep', at(1, -1))).rejects.toBeInstanceOf(VersionNotFoundError);
    await expect(reader.asOf('nobody', at(1))).rejects.toBeInstanceOf(ItemNotFoundError);
  });

  it('returns the tombstone for an instant after a delete', async () => {
    const record = await reader.asOf('short', at(6, 500));
    expect(record).toMatchObject({ versionNumber: 6, op: 'REMOVE' });
    expect(record.image).toBeUndefined();
    expect((await reader.asOf('short', at(7))).op).toBe('MODIFY');
  });

  it('diffs two versions, and a version against a tombstone', async () => {
    const diff = await reader.diff('short', 2, 5);
    expect(diff.changed).toEqual([
      { path: 'counter', before: 20, after: 50 },
      { path: 'version', before: 2, after: 5 },
    ]);
    const deleted = await reader.diff('short', 5, 6);
    expect(deleted).toMatchObject({ fromDeleted: false, toDeleted: true, added: [], changed: [] });
    expect(deleted.removed.map((r) => r.path)).toEqual(['counter', 'id', 'version']);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['an empty item key', () => reader.getVersion('', 1)],
    ['version 0', () => reader.getVersion('deep', 0)],
    ['a limit of 0', () => reader.listVersions('deep', { limit: 0 })],
    ['a limit over 1000', () => reader.listVersions('deep', { limit: 1001 })],
    ['from after to', () => reader.listVersions('deep', { from: 5, to: 4 })],
    ['an unknown order', () => reader.listVersions('deep', { order: 'up' as never })],
    ['a date without zone', () => reader.asOf('deep', '2026-01-01T00:00:00')],
    ['a negative diff version', () => reader.diff('deep', -1, 2)],
  ])('rejects %s with a ValidationError', async (_case, call) => {
    await expect(call()).rejects.toBeInstanceOf(ValidationError);
  });
});
