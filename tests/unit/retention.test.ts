import { loadConfig, parseRetention } from '../../shared/core/config';
import { GENESIS_HASH } from '../../shared/core/constants';
import { ConfigurationError } from '../../shared/core/errors';
import { encodeVersion } from '../../shared/core/keys';
import type { HistoryRecord, RetentionPolicy } from '../../shared/core/types';
import { checkChain } from '../../shared/integrity/verify';
import { sealRecord, timeKeyOf } from '../../shared/recording/history-record';
import { DAY_MS, windowExits } from '../../shared/recording/retention';

describe('retention configuration', () => {
  it('is off unless a variable sets it', () => {
    expect(parseRetention({})).toBeUndefined();
    expect(parseRetention({ HISTORY_RETENTION_DAYS: ' ', HISTORY_KEEP_VERSIONS: '' })).toBeUndefined();
    expect(loadConfig({}).retention).toBeUndefined();
  });

  it('reads days, versions or both', () => {
    expect(parseRetention({ HISTORY_RETENTION_DAYS: '30' })).toEqual({ days: 30 });
    expect(parseRetention({ HISTORY_KEEP_VERSIONS: '10' })).toEqual({ versions: 10 });
    expect(loadConfig({ HISTORY_RETENTION_DAYS: '7', HISTORY_KEEP_VERSIONS: '3' }).retention).toEqual({
      days: 7,
      versions: 3,
    });
  });

  it.each([
    ['HISTORY_RETENTION_DAYS', '0'],
    ['HISTORY_RETENTION_DAYS', '-1'],
    ['HISTORY_RETENTION_DAYS', '1.5'],
    ['HISTORY_RETENTION_DAYS', '1e3'],
    ['HISTORY_RETENTION_DAYS', 'thirty'],
    ['HISTORY_RETENTION_DAYS', '36501'],
    ['HISTORY_KEEP_VERSIONS', '0'],
    ['HISTORY_KEEP_VERSIONS', '1001'],
  ])('rejects %s=%p', (variable, value) => {
    expect(() => parseRetention({ [variable]: value })).toThrow(ConfigurationError);
  });
});

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => ({ recordedAtMs: ms });

describe('windowExits', () => {
  it('lets the superseded version go, `days` after the version that superseded it', () => {
    const head = { versionNumber: 5, ...at(T0) };
    expect(windowExits({ days: 2 }, head, 1, [head])).toEqual([
      { versionNumber: 4, expiresAt: (T0 + 2 * DAY_MS) / 1000 },
    ]);
  });

  it('dates each exit by the record that pushed it out of the newest versions', () => {
    const appended = [
      { versionNumber: 3, ...at(T0) },
      { versionNumber: 4, ...at(T0 + 1_000) },
      { versionNumber: 5, ...at(T0 + 2_000) },
    ];
    const head = appended[2] as (typeof appended)[number];
    expect(windowExits({ versions: 2 }, head, 3, appended)).toEqual([
      { versionNumber: 1, expiresAt: T0 / 1000 },
      { versionNumber: 2, expiresAt: (T0 + 1_000) / 1000 },
      { versionNumber: 3, expiresAt: (T0 + 2_000) / 1000 },
    ]);
  });

  it('keeps the newest `versions`, and never a version below 1', () => {
    expect(windowExits({ versions: 3 }, { versionNumber: 3, ...at(T0) }, 3, [])).toEqual([]);
    expect(windowExits({ versions: 3 }, { versionNumber: 4, ...at(T0) }, 4, [])).toEqual([
      { versionNumber: 1, expiresAt: T0 / 1000 },
    ]);
  });

  it('dates exits by the head on a redelivery, which appended nothing (later, never earlier)', () => {
    expect(windowExits({ days: 1 }, { versionNumber: 9, ...at(T0) }, 2, [])).toEqual([
      { versionNumber: 7, expiresAt: (T0 + DAY_MS) / 1000 },
      { versionNumber: 8, expiresAt: (T0 + DAY_MS) / 1000 },
    ]);
  });
});

/** A valid chain of `n` versions, one hour apart, written under `policy`, with expiries as the writer sets them. */
function chain(n: number, policy: RetentionPolicy | undefined): HistoryRecord[] {
  return chainAt(
    Array.from({ length: n }, (_, i) => T0 + (i + 1) * 3_600_000),
    policy,
  );
}

/** A valid chain with one version at each of `times`, under `policy`, with expiries as the writer sets them. */
function chainAt(times: number[], policy: RetentionPolicy | undefined): HistoryRecord[] {
  const config = { ...loadConfig({}), retention: policy };
  const records: HistoryRecord[] = [];
  for (const [i, ms] of times.entries()) {
    const v = i + 1;
    const recordedAt = new Date(ms).toISOString();
    records.push(
      sealRecord(
        {
          itemKey: 'a',
          version: encodeVersion(v),
          versionNumber: v,
          timeKey: timeKeyOf(recordedAt, v),
          op: v === 1 ? 'INSERT' : 'MODIFY',
          source: 'app',
          recordedAt,
          image: { id: { S: 'a' }, n: { N: String(v) } },
          changed: [],
          prevHash: records.at(-1)?.hash ?? GENESIS_HASH,
          ...(v > 1 ? { prevVersion: v - 1 } : {}),
        },
        config,
      ),
    );
  }
  if (policy) {
    const head = records.at(-1) as HistoryRecord;
    const appended = records.map((r) => ({
      versionNumber: r.versionNumber,
      recordedAtMs: Date.parse(r.recordedAt),
    }));
    for (const exit of windowExits(
      policy,
      { versionNumber: times.length, recordedAtMs: Date.parse(head.recordedAt) },
      times.length,
      appended,
    ))
      (records[exit.versionNumber - 1] as HistoryRecord).expiresAt = exit.expiresAt;
  }
  return records;
}

const kinds = (result: ReturnType<typeof checkChain>) => result.findings.map((f) => f.kind);
/** Recorded time of version v in `chain`. */
const timeOf = (v: number) => T0 + v * 3_600_000;

describe('verify under retention', () => {
  it('accepts versions deleted after the policy let them go; the oldest retained record anchors the chain', () => {
    const records = chain(6, { days: 1 });
    const later = timeOf(6) + 2 * DAY_MS;
    const retained = records.slice(3); // v1–v3 expired and deleted
    expect(checkChain('a', retained, later)).toEqual({ findings: [], truncated: true });
    // TTL deletes in no particular order: a hole in the middle is fine too.
    expect(
      checkChain('a', [records[0], records[2], ...records.slice(4)] as HistoryRecord[], later).findings,
    ).toEqual([]);
  });

  it('names a deletion the policy did not allow yet', () => {
    const records = chain(6, { days: 1 });
    // v4 was superseded at timeOf(5): one day later it may go, not before.
    expect(kinds(checkChain('a', records.slice(4), timeOf(5) + DAY_MS - 1))).toEqual(['chain.broken']);
    expect(kinds(checkChain('a', records.slice(4), timeOf(5) + DAY_MS))).toEqual([]);
  });

  it('keeps the newest `versions`: deleting one of them is tampering', () => {
    const records = chain(6, { versions: 3 });
    const later = timeOf(6) + 1;
    expect(checkChain('a', records.slice(3), later)).toEqual({ findings: [], truncated: true });
    expect(kinds(checkChain('a', records.slice(4), later))).toEqual(['chain.broken']);
  });

  it('needs both rules to let a version go when both are set', () => {
    const records = chain(6, { days: 1, versions: 3 });
    expect(kinds(checkChain('a', records.slice(3), timeOf(6)))).toEqual(['chain.broken']); // too recent
    expect(kinds(checkChain('a', records.slice(3), timeOf(6) + DAY_MS))).toEqual([]);
    expect(kinds(checkChain('a', records.slice(4), timeOf(6) + 9 * DAY_MS))).toEqual(['chain.broken']); // in the newest 3
  });

  it('allows no missing version without a recorded policy', () => {
    const records = chain(6, undefined);
    expect(kinds(checkChain('a', records.slice(3), timeOf(6) + 999 * DAY_MS))).toEqual(['chain.broken']);
  });

  it('names an expiry earlier than the policy allows, before TTL acts on it', () => {
    const records = chain(6, { days: 1 });
    const head = records[5] as HistoryRecord;
    head.expiresAt = Math.floor(timeOf(6) / 1000); // the current version may never expire
    const middle = records[2] as HistoryRecord;
    middle.expiresAt = Math.floor(timeOf(4) / 1000); // due one day after v4 superseded it
    const result = checkChain('a', records, timeOf(6));
    expect(result.findings.map((f) => [f.kind, f.version])).toEqual([
      ['retention.early', 3],
      ['retention.early', 6],
    ]);
  });

  it('still detects an edited policy: it is part of the hash', () => {
    const records = chain(4, { days: 1 });
    (records[3] as HistoryRecord).retention = { days: 0 };
    expect(kinds(checkChain('a', records, timeOf(4)))).toEqual(['hash.mismatch']);
  });
});

describe('retention grace counts from the record that pushed a version out (#6)', () => {
  const policy: RetentionPolicy = { days: 30, versions: 3 };
  const records = chainAt(
    [0, 1, 2, 100, 101].map((day) => T0 + day * DAY_MS),
    policy,
  );
  const at = (day: number) => T0 + day * DAY_MS;

  it.each([
    ['v1', [1]],
    ['v2', [2]],
    ['v1 and v2', [1, 2]],
  ])('names the deletion of %s on day 105: v1 stays until day 130, v2 until day 131', (_what, gone) => {
    const kept = records.filter((r) => !gone.includes(r.versionNumber));
    expect(kinds(checkChain('a', kept, at(105)))).toContain('chain.broken');
  });

  it('accepts them once their grace after the pushing record is over', () => {
    expect(checkChain('a', records.slice(1), at(130)).findings).toEqual([]);
    expect(checkChain('a', records.slice(2), at(131)).findings).toEqual([]);
    expect(kinds(checkChain('a', records.slice(2), at(130.5)))).toContain('chain.broken');
  });

  it('names an expiresAt set earlier than the pushing record allows', () => {
    const early = records.map((r) => (r.versionNumber === 1 ? { ...r, expiresAt: at(31) / 1000 } : r));
    expect(kinds(checkChain('a', early, at(105)))).toContain('retention.early');
    const right = records.map((r) => (r.versionNumber === 1 ? { ...r, expiresAt: at(130) / 1000 } : r));
    expect(checkChain('a', right, at(105)).findings).toEqual([]);
  });
});
