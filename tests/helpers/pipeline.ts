import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type CheckpointStore,
  EventSourceMapping,
  type EventSourceMappingOptions,
  type LambdaStreamEvent,
  MemoryCheckpointStore,
  type OnFailureRecord,
} from '../../local/event-source-mapping';
import { inProcessInvoker } from '../../local/invokers';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import { createLogger } from '../../shared/core/logger';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { VersionedTable } from '../../shared/writing/versioned-table';
import { createTestTables, testStreamsClient } from './dynamo';

export interface Pipeline {
  mapping: EventSourceMapping;
  writer: HistoryWriter;
  /** Every event delivered, in order, as the handler received it. */
  events: LambdaStreamEvent[];
  onFailure: OnFailureRecord[];
  checkpoint: CheckpointStore;
  stop(): Promise<void>;
}

/**
 * The real stream of a test's latest table, read by the project's event source
 * mapping and delivered in-process to a HistoryWriter (what writeHistory runs).
 */
export async function startPipeline(
  client: DynamoDBClient,
  config: HistoryConfig,
  options: Partial<EventSourceMappingOptions> & {
    writerClient?: DynamoDBClient;
    /** Changes each event before the writer sees it, or fails the invocation after it (fault injection). */
    around?: (
      event: LambdaStreamEvent,
      record: (event: LambdaStreamEvent) => Promise<unknown>,
    ) => Promise<unknown>;
  } = {},
): Promise<Pipeline> {
  const described = await client.send(new DescribeTableCommand({ TableName: config.latestTableName }));
  const streamArn = described.Table?.LatestStreamArn;
  if (!streamArn) throw new Error(`${config.latestTableName} has no stream`);
  const writer = new HistoryWriter({
    client: options.writerClient ?? client,
    config,
    logger: process.env.DEBUG_ESM ? createLogger('writer', 'info') : undefined,
    // As writeHistory runs: only this stream's records, dated as the stream can date them.
    trust: { streamArn },
  });
  const events: LambdaStreamEvent[] = [];
  const onFailure: OnFailureRecord[] = [];
  const record = async (event: LambdaStreamEvent) => {
    events.push(event);
    const { batchItemFailures } = await writer.recordBatch(event.Records);
    return { batchItemFailures };
  };
  const handler = async (event: unknown) =>
    options.around ? options.around(event as LambdaStreamEvent, record) : record(event as LambdaStreamEvent);
  const checkpoint = options.checkpoint ?? new MemoryCheckpointStore();
  const streams = testStreamsClient();
  const mapping = new EventSourceMapping({
    streams,
    streamArn,
    invoke: inProcessInvoker(handler),
    pollIntervalMs: 50,
    shardDiscoveryMs: 200,
    retryBaseDelayMs: 10,
    // As npm start does: DynamoDB Local's minute dating re-dated to the second.
    emulatorDatingStepSeconds: 60,
    logger: process.env.DEBUG_ESM ? createLogger('esm', 'info') : undefined,
    onFailure: (failure) => {
      onFailure.push(failure);
    },
    ...Object.fromEntries(Object.entries(options).filter(([k]) => k !== 'around' && k !== 'writerClient')),
    checkpoint,
  });
  mapping.start();
  return {
    mapping,
    writer,
    events,
    onFailure,
    checkpoint,
    stop: async () => {
      await mapping.stop();
      streams.destroy();
    },
  };
}

/** A test's own tables, the writer library over its latest table, and the running pipeline. */
export interface RecordedTables {
  tables: TableSet;
  config: HistoryConfig;
  orders: VersionedTable;
  pipeline: Pipeline;
}

/** Fresh tables recorded by a running pipeline: what most integration tests start from. */
export async function recordedTables(client: DynamoDBClient): Promise<RecordedTables> {
  const { tables, config } = await createTestTables(client);
  const orders = new VersionedTable({
    client,
    tableName: tables.latest,
    keySchema: config.keySchema,
    attributes: config.attributes,
  });
  return { tables, config, orders, pipeline: await startPipeline(client, config) };
}
