import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  EventSourceMapping,
  type LambdaStreamEvent,
  MemoryCheckpointStore,
} from '../../local/event-source-mapping';

/**
 * A scripted DynamoDB Streams API: a parent shard (closed) that rolled over
 * into a child shard, as DynamoDB does every few hours. Only the stream API's
 * shapes are imitated; the mapping's logic is what is under test.
 */
class ScriptedStream {
  readonly shards = [
    {
      ShardId: 'parent',
      SequenceNumberRange: { StartingSequenceNumber: '100', EndingSequenceNumber: '300' },
    },
    { ShardId: 'child', ParentShardId: 'parent', SequenceNumberRange: { StartingSequenceNumber: '400' } },
  ];
  readonly records: Record<string, string[]> = { parent: ['100', '200', '300'], child: ['400', '500'] };
  readonly iteratorRequests: { shard: string; type: string; after?: string }[] = [];
  expireNext = false;

  private record(seq: string) {
    return {
      eventID: `e${seq}`,
      eventName: 'INSERT',
      dynamodb: {
        ApproximateCreationDateTime: new Date(),
        Keys: { id: { S: `k${seq}` } },
        NewImage: { id: { S: `k${seq}` } },
        SequenceNumber: seq,
      },
    };
  }

  async send(command: unknown): Promise<unknown> {
    if (command instanceof DescribeStreamCommand) return { StreamDescription: { Shards: this.shards } };
    if (command instanceof GetShardIteratorCommand) {
      const { ShardId = '', ShardIteratorType = '', SequenceNumber } = command.input;
      this.iteratorRequests.push({ shard: ShardId, type: ShardIteratorType, after: SequenceNumber });
      const all = this.records[ShardId] ?? [];
      const start = ShardIteratorType === 'AFTER_SEQUENCE_NUMBER' ? all.indexOf(SequenceNumber ?? '') + 1 : 0;
      return { ShardIterator: JSON.stringify({ shard: ShardId, position: start }) };
    }
    if (command instanceof GetRecordsCommand) {
      if (this.expireNext) {
        this.expireNext = false;
        throw new ExpiredIteratorException({ message: 'Iterator expired', $metadata: {} });
      }
      const { shard, position } = JSON.parse(command.input.ShardIterator ?? '{}') as {
        shard: string;
        position: number;
      };
      const all = this.records[shard] ?? [];
      const batch = all.slice(position, position + 2);
      const next = position + batch.length;
      const closed = shard === 'parent';
      return {
        Records: batch.map((s) => this.record(s)),
        // A closed shard ends with no next iterator once it is read to the end.
        NextShardIterator:
          closed && next >= all.length ? undefined : JSON.stringify({ shard, position: next }),
      };
    }
    throw new Error(`unexpected command ${String(command)}`);
  }
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('event source mapping across shards', () => {
  it('reads a parent shard to its end before its child, and follows the child', async () => {
    const stream = new ScriptedStream();
    const delivered: string[] = [];
    const checkpoint = new MemoryCheckpointStore();
    const mapping = new EventSourceMapping({
      streams: stream as unknown as DynamoDBStreamsClient,
      streamArn: 'arn:aws:dynamodb:us-east-1:1:table/t/stream/s',
      invoke: async (event: LambdaStreamEvent) => {
        delivered.push(...event.Records.map((r) => r.dynamodb.SequenceNumber));
        return { payload: { batchItemFailures: [] } };
      },
      checkpoint,
      pollIntervalMs: 5,
      shardDiscoveryMs: 10,
    });
    mapping.start();
    try {
      await until(() => delivered.length === 5);
      expect(delivered).toEqual(['100', '200', '300', '400', '500']);
      const firstChildRead = stream.iteratorRequests.findIndex((r) => r.shard === 'child');
      expect(stream.iteratorRequests.slice(0, firstChildRead).every((r) => r.shard === 'parent')).toBe(true);
      expect(mapping.positions().shards).toMatchObject({
        parent: { done: true },
        child: { sequenceNumber: '500' },
      });
    } finally {
      await mapping.stop();
    }
  });

  it('re-opens an expired iterator from its checkpoint without losing or repeating records', async () => {
    const stream = new ScriptedStream();
    stream.shards.splice(1);
    stream.records.parent = ['100', '200', '300'];
    const delivered: string[] = [];
    const mapping = new EventSourceMapping({
      streams: stream as unknown as DynamoDBStreamsClient,
      streamArn: 'arn:aws:dynamodb:us-east-1:1:table/t/stream/s',
      invoke: async (event: LambdaStreamEvent) => {
        delivered.push(...event.Records.map((r) => r.dynamodb.SequenceNumber));
        // The iterator expires while the function runs.
        if (delivered.length === 2) stream.expireNext = true;
        return { payload: { batchItemFailures: [] } };
      },
      pollIntervalMs: 5,
      shardDiscoveryMs: 10,
      batchSize: 2,
    });
    mapping.start();
    try {
      await until(() => delivered.length === 3);
      expect(delivered).toEqual(['100', '200', '300']);
      expect(stream.iteratorRequests).toContainEqual({
        shard: 'parent',
        type: 'AFTER_SEQUENCE_NUMBER',
        after: '200',
      });
    } finally {
      await mapping.stop();
    }
  });
});
