import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HistoryConfig } from '../core/config';
import { ConfigurationError } from '../core/errors';
import type { Logger } from '../core/logger';
import { type BatchResult, type BatchStats, HistoryWriter } from './history-writer';
import { trustOf } from './stream-origin';

export interface StreamRecorderOptions {
  client: DynamoDBClient;
  /** Every recorded table, each with its `streamArn`. */
  configs: readonly HistoryConfig[];
  logger?: Logger;
  clock?: () => Date;
}

/**
 * writeHistory for one or several recorded tables: each record goes to the writer of
 * the table whose stream it names. AWS sends one stream's records per invocation (one
 * event source mapping per stream), so a batch normally has one writer. A record that
 * names no recorded stream goes to the first table's writer, whose origin check parks
 * it as `record.foreignStream` (it is never recorded anywhere).
 */
export class StreamRecorder {
  private readonly writers = new Map<string, HistoryWriter>();
  private readonly fallback: HistoryWriter;

  constructor(options: StreamRecorderOptions) {
    for (const config of options.configs) {
      const trust = trustOf(config.streamArn, `the stream of ${config.latestTableName}`);
      if (this.writers.has(trust.streamArn))
        throw new ConfigurationError(`two recorded tables name the stream ${trust.streamArn}`);
      const writer = new HistoryWriter({ client: options.client, config, trust, ...pick(options) });
      this.writers.set(trust.streamArn, writer);
    }
    const first = this.writers.values().next().value;
    if (!first) throw new ConfigurationError('writeHistory needs at least one recorded table');
    this.fallback = first;
  }

  async recordBatch(records: readonly unknown[]): Promise<BatchResult> {
    const parts = new Map<HistoryWriter, unknown[]>();
    for (const record of records) {
      const arn = (record as { eventSourceARN?: unknown } | null)?.eventSourceARN;
      const writer = (typeof arn === 'string' && this.writers.get(arn)) || this.fallback;
      const part = parts.get(writer);
      if (part) part.push(record);
      else parts.set(writer, [record]);
    }
    const results = await Promise.all([...parts].map(([writer, part]) => writer.recordBatch(part)));
    const stats: BatchStats = { received: 0, recorded: 0, duplicates: 0, parked: 0, retried: 0, expiring: 0 };
    for (const result of results)
      for (const name of Object.keys(stats) as (keyof BatchStats)[]) stats[name] += result.stats[name];
    return { batchItemFailures: results.flatMap((r) => r.batchItemFailures), stats };
  }
}

function pick(options: StreamRecorderOptions): { logger?: Logger; clock?: () => Date } {
  return {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
}
