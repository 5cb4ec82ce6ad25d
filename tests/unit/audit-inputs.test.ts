import { createHmac } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import type { HistoryRecord } from '../../shared/core/types';
import { asOfUncertainty, checkVersionNumber, HistoryReader, parseInstant } from '../../shared/reading/audit';
import { MAX_PAYLOAD_BYTES, parseRollbackRequest } from '../../shared/writing/rollback';

describe('instants', () => {
  it.each([
    ['2026-01-31T12:00:00Z', '2026-01-31T12:00:00.000Z'],
    ['2026-01-31T12:00Z', '2026-01-31T12:00:00.000Z'],
    ['2026-01-31T12:00:00.123456Z', '2026-01-31T12:00:00.123Z'],
    ['2026-01-31T14:00:00+02:00', '2026-01-31T12:00:00.000Z'],
  ])('normalizes %s', (input, expected) => {
    expect(parseInstant(input)).toBe(expected);
  });

  it.each([
    '',
    'yesterday',
    '2026-01-31',
    '2026-01-31T12:00:00',
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '1700000000',
    'T12:00Z',
    42,
    null,
  ])('rejects %p', (input) => {
    expect(() => parseInstant(input)).toThrow(ValidationError);
  });
});

describe('version numbers', () => {
  it.each([0, -1, 1.5, '2', Number.MAX_SAFE_INTEGER + 1, Number.NaN, null])('rejects %p', (n) => {
    expect(() => checkVersionNumber(n, 'version')).toThrow(ValidationError);
  });
  it('accepts MAX_SAFE_INTEGER', () => {
    expect(checkVersionNumber(Number.MAX_SAFE_INTEGER, 'version')).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('rollback payload', () => {
  it('accepts the contract, optional fields included', () => {
    const payload = {
      key: { id: 'order-1' },
      toVersion: 2,
      expectedVersion: 5,
      actor: 'alice',
      reason: 'undo bad edit',
      dryRun: false,
    };
    expect(parseRollbackRequest(payload)).toEqual(payload);
    expect(parseRollbackRequest({ key: { id: 'order-1' }, toVersion: 2 })).toEqual({
      key: { id: 'order-1' },
      toVersion: 2,
    });
  });

  const cases: [string, unknown][] = [
    ['null', null],
    ['a string', 'rollback'],
    ['an array', [{ key: { id: 'a' }, toVersion: 1 }]],
    ['no key', { toVersion: 1 }],
    ['a key that is a string', { key: 'order-1', toVersion: 1 }],
    ['a key that is an array', { key: ['order-1'], toVersion: 1 }],
    ['no toVersion', { key: { id: 'a' } }],
    ['toVersion 0', { key: { id: 'a' }, toVersion: 0 }],
    ['a negative toVersion', { key: { id: 'a' }, toVersion: -3 }],
    ['a fractional toVersion', { key: { id: 'a' }, toVersion: 1.5 }],
    ['a string toVersion', { key: { id: 'a' }, toVersion: '2' }],
    ['a toVersion past MAX_SAFE_INTEGER', { key: { id: 'a' }, toVersion: 2 ** 53 }],
    ['a boolean toVersion', { key: { id: 'a' }, toVersion: true }],
    ['a negative expectedVersion', { key: { id: 'a' }, toVersion: 1, expectedVersion: -1 }],
    ['a string expectedVersion', { key: { id: 'a' }, toVersion: 1, expectedVersion: '5' }],
    ['a fractional expectedVersion', { key: { id: 'a' }, toVersion: 1, expectedVersion: 4.2 }],
    ['a numeric actor', { key: { id: 'a' }, toVersion: 1, actor: 7 }],
    ['an empty actor', { key: { id: 'a' }, toVersion: 1, actor: '' }],
    ['a string dryRun', { key: { id: 'a' }, toVersion: 1, dryRun: 'yes' }],
    ['an unknown field', { key: { id: 'a' }, toVersion: 1, force: true }],
    ['a misspelled field', { key: { id: 'a' }, toversion: 1 }],
    ['an oversized reason', { key: { id: 'a' }, toVersion: 1, reason: 'x'.repeat(2000) }],
    ['an oversized payload', { key: { id: 'a', pad: 'x'.repeat(MAX_PAYLOAD_BYTES) }, toVersion: 1 }],
  ];
  it.each(cases)('rejects %s with a ValidationError', (_case, payload) => {
    expect(() => parseRollbackRequest(payload)).toThrow(ValidationError);
  });
});

describe('item keys in audit queries (#8)', () => {
  const reader = (keys: string) =>
    new HistoryReader({
      client: new DynamoDBClient({ region: 'us-east-1' }),
      config: loadConfig({ KEY_ATTRIBUTES: keys, CURSOR_SECRET: 'x'.repeat(32) }),
    });

  it.each([
    ['id:N', '1e0', '1'],
    ['id:N', '01', '1'],
    ['id:B', 'AQ==', 'AQ'],
    ['pk,sk', '%41|b', 'A|b'],
  ])('refuses the %s key %p, naming %p', (keys, spelled, canonical) => {
    expect(() => reader(keys).checkItemKey(spelled)).toThrow(`this item's key is "${canonical}"`);
  });

  it('measures a key in bytes: 1,500 é (3,000 bytes) is refused, not a 500', () => {
    expect(() => reader('pk,sk').checkItemKey(`${'%C3%A9'.repeat(1500)}|x`)).toThrow(ValidationError);
    expect(() => reader('id').checkItemKey('é'.repeat(1500))).toThrow(ValidationError);
  });
});

describe('crafted cursors and dates are 4xx, never crashes (issue 14)', () => {
  const config = loadConfig({});
  const reader = new HistoryReader({ client: new DynamoDBClient({ region: 'us-east-1' }), config });
  // Signed with the reader's key, as someone who knows it could: the body must still be checked.
  const forge = (body: unknown) => {
    const json = Buffer.from(JSON.stringify(body)).toString('base64url');
    const mac = createHmac('sha256', `dynamo-history:${config.historyTableName}`)
      .update(json)
      .digest('base64url')
      .slice(0, 22);
    return `${json}.${mac}`;
  };

  it.each([null, 5, 'x', [], { k: 'a', o: 'asc', v: 7 }])(
    'refuses a signed cursor whose body is %p',
    async (body) => {
      await expect(reader.listVersions('a', { cursor: forge(body) })).rejects.toThrow(ValidationError);
    },
  );

  it('refuses a signed cursor positioned outside the query range', async () => {
    const cursor = forge({ k: 'a', v: 'v0050', o: 'asc', f: 1, t: 10 });
    await expect(reader.listVersions('a', { cursor, from: 1, to: 10 })).rejects.toThrow(ValidationError);
  });

  it.each(['2026-02-30T00:00:00+00:00', '2026-02-29T00:00:00+01:00', '2026-04-31T10:00:00-05:00'])(
    'refuses the impossible date %p with any offset',
    (at) => {
      expect(() => parseInstant(at)).toThrow(ValidationError);
    },
  );

  it('still takes a real leap day with an offset', () => {
    expect(parseInstant('2028-02-29T01:00:00+01:00')).toBe('2028-02-29T00:00:00.000Z');
  });
});

describe('asOfUncertainty: what the stream’s time step leaves open', () => {
  const record = { versionNumber: 4, recordedAt: '2026-12-01T10:00:05.000Z' } as HistoryRecord;
  it.each<[string, string, number, boolean]>([
    ['in the same second as the change (AWS)', '2026-12-01T10:00:05.500Z', 1000, true],
    ['a second later (AWS)', '2026-12-01T10:00:06.000Z', 1000, false],
    ['half a minute later under DynamoDB Local’s minute', '2026-12-01T10:00:35.000Z', 60_000, true],
    ['a minute later under DynamoDB Local’s minute', '2026-12-01T10:01:05.000Z', 60_000, false],
  ])('an instant %s', (_case, at, resolutionMs, uncertain) => {
    const note = asOfUncertainty(record, at, resolutionMs);
    expect(note !== undefined).toBe(uncertain);
    if (note) expect(note).toContain('the item may still have been at the version before');
  });
});
