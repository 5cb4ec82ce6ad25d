import { type AttributeValue, DescribeTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  EventSourceMapping,
  type InvokeResult,
  type LambdaStreamEvent,
  MAX_PAYLOAD_BYTES,
  type OnFailureRecord,
} from '../../local/event-source-mapping';
import { createTestTables, eventually, testClient, testStreamsClient } from '../helpers/dynamo';

const client = testClient();
afterAll(() => client.destroy());

interface Harness {
  /** Sequence numbers of each invocation, in order. */
  calls: string[][];
  /** The size of each invocation's event, in bytes of JSON. */
  eventBytes: number[];
  failures: OnFailureRecord[];
  seqs: () => Promise<string[]>;
  stop: () => Promise<void>;
}

/**
 * The mapping on a fresh table's real stream, with a scripted function:
 * `respond(batch, callIndex)` decides each invocation's result.
 */
async function harness(
  records: number,
  respond: (batch: string[], call: number) => InvokeResult,
  options: Partial<ConstructorParameters<typeof EventSourceMapping>[0]> = {},
  item: (i: number) => Record<string, AttributeValue> = (i) => ({ id: { S: `k${i}` } }),
): Promise<Harness> {
  const { tables } = await createTestTables(client);
  for (let i = 0; i < records; i++) {
    await client.send(new PutItemCommand({ TableName: tables.latest, Item: item(i) }));
  }
  const streamArn = (await client.send(new DescribeTableCommand({ TableName: tables.latest }))).Table
    ?.LatestStreamArn as string;
  const calls: string[][] = [];
  const eventBytes: number[] = [];
  const failures: OnFailureRecord[] = [];
  const streams = testStreamsClient();
  const mapping = new EventSourceMapping({
    streams,
    streamArn,
    invoke: async (event: LambdaStreamEvent) => {
      const batch = event.Records.map((r) => r.dynamodb.SequenceNumber);
      calls.push(batch);
      eventBytes.push(Buffer.byteLength(JSON.stringify(event)));
      return respond(batch, calls.length - 1);
    },
    onFailure: (f) => {
      failures.push(f);
    },
    pollIntervalMs: 20,
    shardDiscoveryMs: 100,
    retryBaseDelayMs: 5,
    ...options,
  });
  mapping.start();
  // All records arrive in the first batch when the batch size allows it.
  const seqs = async () => eventually(async () => calls[0]);
  return {
    calls,
    eventBytes,
    failures,
    seqs,
    stop: async () => {
      await mapping.stop();
      streams.destroy();
    },
  };
}

const fail = (...ids: string[]) => ({
  payload: { batchItemFailures: ids.map((itemIdentifier) => ({ itemIdentifier })) },
});
const ok: InvokeResult = { payload: { batchItemFailures: [] } };

describe("local event source mapping follows Lambda's rules (real stream)", () => {
  it('resumes from the lowest of several failures', async () => {
    const h = await harness(5, (batch, call) =>
      call === 0 ? fail(batch[3] as string, batch[1] as string) : ok,
    );
    try {
      const all = await h.seqs();
      await eventually(async () => h.calls[1]);
      expect(h.calls[1]).toEqual(all.slice(1));
    } finally {
      await h.stop();
    }
  });

  it('retries the whole batch when the first record fails', async () => {
    const h = await harness(4, (batch, call) => (call === 0 ? fail(batch[0] as string) : ok));
    try {
      const all = await h.seqs();
      await eventually(async () => h.calls[1]);
      expect(h.calls[1]).toEqual(all);
    } finally {
      await h.stop();
    }
  });

  it.each([
    ['an empty itemIdentifier', { payload: { batchItemFailures: [{ itemIdentifier: '' }] } }],
    ['a null itemIdentifier', { payload: { batchItemFailures: [{ itemIdentifier: null }] } }],
    ['an unknown itemIdentifier', { payload: { batchItemFailures: [{ itemIdentifier: '12345' }] } }],
  ])('treats %s as a failure of the whole batch', async (_case, response) => {
    const h = await harness(3, (_batch, call) => (call === 0 ? (response as InvokeResult) : ok));
    try {
      const all = await h.seqs();
      await eventually(async () => h.calls[1]);
      expect(h.calls[1]).toEqual(all);
    } finally {
      await h.stop();
    }
  });

  it('bisects a batch on a function error down to the poison record, then gives it up', async () => {
    let poison: string | undefined;
    const h = await harness(
      8,
      (batch, call) => {
        if (call === 0) poison = batch[5];
        return batch.includes(poison as string) ? { functionError: 'Unhandled' } : ok;
      },
      { maximumRetryAttempts: 2 },
    );
    try {
      await eventually(async () => h.failures[0]);
      const sizes = h.calls.map((c) => c.length);
      // 8 → 4 (clean) → 4 with poison → 2 → 1 ... the poison alone, retried, then given up.
      expect(sizes.slice(0, 2)).toEqual([8, 4]);
      expect(h.failures).toHaveLength(1);
      expect(h.failures[0]).toMatchObject({
        reason: 'RetryAttemptsExhausted',
        batchSize: 1,
        startSequenceNumber: poison,
      });
      // The records after the poison are delivered once it is given up.
      const healthy = () => new Set(h.calls.filter((c) => !c.includes(poison as string)).flat());
      await eventually(async () => (healthy().size === 7 ? true : undefined));
      expect(healthy().size).toBe(7);
      // The poison is tried once per retry allowed, plus the first attempt, at size 1.
      expect(h.calls.filter((c) => c.length === 1 && c[0] === poison)).toHaveLength(3);
    } finally {
      await h.stop();
    }
  });

  it('sends records older than the maximum age to on-failure without invoking', async () => {
    const h = await harness(3, () => ok, {
      maximumRecordAgeInSeconds: 60,
      now: () => Date.now() + 3_600_000,
    });
    try {
      const failure = await eventually(async () => h.failures[0]);
      expect(failure).toMatchObject({ reason: 'RecordAgeExceeded', batchSize: 3 });
      expect(h.calls).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  it('caps a batch at the 6 MB invocation payload, whatever the batch size', async () => {
    // 45 items of 300 KB: 13.5 MB of new images, far under a batch size of 1,000 records.
    const big = 'x'.repeat(300 * 1024);
    const h = await harness(
      45,
      () => ok,
      { batchSize: 1000 },
      (i) => ({
        id: { S: `k${i}` },
        blob: { S: big },
      }),
    );
    try {
      await eventually(async () => (h.calls.flat().length === 45 ? true : undefined), 60_000);
      const delivered = h.calls.flat();
      // Every record once, in the stream's order, no invocation over the limit, and none needlessly small.
      expect(new Set(delivered).size).toBe(45);
      expect([...delivered].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))).toEqual(delivered);
      expect(Math.max(...h.eventBytes)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
      expect(h.calls.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...h.calls.map((c) => c.length))).toBeGreaterThan(15);
    } finally {
      await h.stop();
    }
  });
});
