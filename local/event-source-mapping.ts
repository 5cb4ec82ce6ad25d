import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type Shard,
  type _Record as StreamRecord,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { type Logger, silentLogger } from '../shared/core/logger';
import type { AttributeMap } from '../shared/core/types';
import { toWireMap } from '../shared/core/wire';
import { compareSequenceNumbers } from '../shared/recording/stream-record';

/** One record as Lambda receives it (JSON: epoch seconds, binary as base64). */
export interface LambdaStreamRecord {
  eventID: string;
  eventName: string;
  eventVersion: string;
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  eventSourceARN: string;
  userIdentity?: { type: string; principalId: string };
  dynamodb: Record<string, unknown> & { SequenceNumber: string; ApproximateCreationDateTime: number };
}

export interface LambdaStreamEvent {
  Records: LambdaStreamRecord[];
}

/** What an invocation returned: a payload, or a function error (the handler threw). */
export interface InvokeResult {
  functionError?: string;
  payload?: unknown;
}

export type Invoker = (event: LambdaStreamEvent) => Promise<InvokeResult>;

/** What AWS sends to an on-failure destination, plus the records themselves (AWS keeps only metadata). */
export interface OnFailureRecord {
  reason: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  shardId: string;
  streamArn: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  batchSize: number;
  attempts: number;
  records: LambdaStreamRecord[];
}

export interface ShardCheckpoint {
  /** Last sequence number fully handled (recorded, or sent to on-failure). */
  sequenceNumber?: string;
  /** The shard is closed and every record of it was handled. */
  done?: boolean;
}

export interface Checkpoint {
  streamArn: string;
  shards: Record<string, ShardCheckpoint>;
}

export interface CheckpointStore {
  load(streamArn: string): Checkpoint;
  save(checkpoint: Checkpoint): void;
}

export class MemoryCheckpointStore implements CheckpointStore {
  private value: Checkpoint | undefined;
  load(streamArn: string): Checkpoint {
    return this.value?.streamArn === streamArn ? structuredClone(this.value) : { streamArn, shards: {} };
  }
  save(checkpoint: Checkpoint): void {
    this.value = structuredClone(checkpoint);
  }
}

/** Checkpoint in a JSON file, replaced atomically, so a restart resumes where it stopped. */
export class FileCheckpointStore implements CheckpointStore {
  constructor(private readonly path: string) {}
  load(streamArn: string): Checkpoint {
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<Checkpoint>;
      // Another stream ARN means the table was re-created: its old positions mean nothing.
      if (parsed.streamArn === streamArn && parsed.shards && typeof parsed.shards === 'object') {
        return { streamArn, shards: parsed.shards };
      }
    } catch {
      // No checkpoint yet, or unreadable: start from the trim horizon.
    }
    return { streamArn, shards: {} };
  }
  save(checkpoint: Checkpoint): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(checkpoint));
    renameSync(tmp, this.path);
  }
}

/** Lambda's payload limit for a synchronous invocation, which caps a stream batch: 6 MB. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** `{"Records":[]}` */
const EMPTY_EVENT_BYTES = 14;

export interface EventSourceMappingOptions {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  invoke: Invoker;
  region?: string;
  batchSize?: number;
  /**
   * The largest event an invocation carries, in bytes of JSON. Lambda passes a batch "up to the payload
   * limit for synchronous invocation (6 MB)" (the Lambda API's BatchSize), so a batch of large images
   * holds fewer records than the batch size. Default 6 MB.
   */
  maxPayloadBytes?: number;
  maximumRetryAttempts?: number;
  maximumRecordAgeInSeconds?: number;
  bisectBatchOnFunctionError?: boolean;
  onFailure?: (failure: OnFailureRecord) => Promise<void> | void;
  checkpoint?: CheckpointStore;
  /** Wait between polls of an idle shard; AWS polls each shard about 4 times a second. */
  pollIntervalMs?: number;
  /** How often the shard list is refreshed to find new and child shards. */
  shardDiscoveryMs?: number;
  retryBaseDelayMs?: number;
  logger?: Logger;
  now?: () => number;
  /**
   * The emulator's dating step, in seconds: DynamoDB Local dates stream records to
   * the minute (60), where AWS dates them to the second. When set, a record the
   * emulator dated to the start of a step is re-dated to the second this mapping
   * first read it, kept inside that step and never before the shard's previous
   * record (see {@link correctDating}). Off by default, and never in AWS.
   */
  emulatorDatingStepSeconds?: number;
}

/**
 * A record's time at the second, from an emulator that dates to a coarser step:
 * the second the record was first read (it was written at most one poll earlier),
 * but no earlier than the step the emulator gave nor the shard's previous record,
 * and no later than the step's last second. Only records dated exactly at a step's
 * start are touched: a time the emulator already gives to the second is kept.
 */
export function correctDating(
  reportedSeconds: number,
  readAtMs: number,
  stepSeconds: number,
  previousSeconds: number,
): number {
  if (reportedSeconds % stepSeconds !== 0) return reportedSeconds;
  const seen = Math.floor(readAtMs / 1000);
  return Math.min(reportedSeconds + stepSeconds - 1, Math.max(reportedSeconds, seen, previousSeconds));
}

/** Converts a stream record from the SDK into Lambda's JSON event shape. */
export function toLambdaRecord(record: StreamRecord, streamArn: string, region: string): LambdaStreamRecord {
  const d = record.dynamodb ?? {};
  const dynamodb: LambdaStreamRecord['dynamodb'] = {
    // AWS sends epoch seconds, rounded down to the second.
    ApproximateCreationDateTime: Math.floor((d.ApproximateCreationDateTime?.getTime() ?? Date.now()) / 1000),
    Keys: toWireMap((d.Keys ?? {}) as AttributeMap),
    SequenceNumber: d.SequenceNumber ?? '',
    SizeBytes: d.SizeBytes ?? 0,
    StreamViewType: d.StreamViewType ?? 'NEW_AND_OLD_IMAGES',
  };
  if (d.NewImage) dynamodb.NewImage = toWireMap(d.NewImage as AttributeMap);
  if (d.OldImage) dynamodb.OldImage = toWireMap(d.OldImage as AttributeMap);
  const out: LambdaStreamRecord = {
    eventID: record.eventID ?? '',
    eventName: record.eventName ?? '',
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion ?? region,
    eventSourceARN: streamArn,
    dynamodb,
  };
  if (record.userIdentity?.Type && record.userIdentity.PrincipalId) {
    out.userIdentity = { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId };
  }
  return out;
}

type Outcome = { kind: 'ok' } | { kind: 'partial'; firstFailed: number } | { kind: 'error'; message: string };

/**
 * Reads the failure list of a partial batch response the way Lambda does: a
 * missing or empty list is success; an entry that is not the sequence number
 * of a record in the batch makes the whole batch count as failed.
 */
export function interpretResponse(result: InvokeResult, batch: readonly LambdaStreamRecord[]): Outcome {
  if (result.functionError) return { kind: 'error', message: `function error: ${result.functionError}` };
  const failures = (result.payload as { batchItemFailures?: unknown } | null | undefined)?.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'ok' };
  if (!Array.isArray(failures)) return { kind: 'partial', firstFailed: 0 };
  if (failures.length === 0) return { kind: 'ok' };
  let first = batch.length;
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    const index =
      typeof id === 'string' && id.length > 0 ? batch.findIndex((r) => r.dynamodb.SequenceNumber === id) : -1;
    if (index < 0) return { kind: 'partial', firstFailed: 0 };
    first = Math.min(first, index);
  }
  return { kind: 'partial', firstFailed: first };
}

/**
 * A local stand-in for Lambda's DynamoDB Streams event source mapping, with its
 * rules: batch size, per-shard order, partial batch responses retried from the
 * lowest failed sequence number, bisect on function error, bounded retries and
 * record age with an on-failure record, parent shards before children,
 * recovery from expired or trimmed iterators, and a checkpoint to resume from.
 */
export class EventSourceMapping {
  private readonly o: Required<Omit<EventSourceMappingOptions, 'onFailure' | 'emulatorDatingStepSeconds'>> &
    Pick<EventSourceMappingOptions, 'onFailure' | 'emulatorDatingStepSeconds'>;
  private checkpoint: Checkpoint;
  private running = false;
  private readonly workers = new Map<string, Promise<void>>();
  private discovery: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Invocations made; for tests and the benchmark. */
  invocations = 0;
  /** Each buffered record's size in an event, measured once. */
  private readonly recordBytes = new WeakMap<LambdaStreamRecord, number>();

  constructor(options: EventSourceMappingOptions) {
    this.o = {
      region: 'us-east-1',
      batchSize: 100,
      maxPayloadBytes: MAX_PAYLOAD_BYTES,
      maximumRetryAttempts: 10,
      maximumRecordAgeInSeconds: 86_400,
      bisectBatchOnFunctionError: true,
      checkpoint: new MemoryCheckpointStore(),
      pollIntervalMs: 250,
      shardDiscoveryMs: 1000,
      retryBaseDelayMs: 100,
      logger: silentLogger,
      now: Date.now,
      // An option given as undefined keeps its default.
      ...(Object.fromEntries(
        Object.entries(options).filter(([, v]) => v !== undefined),
      ) as EventSourceMappingOptions),
    };
    this.checkpoint = this.o.checkpoint.load(this.o.streamArn);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.discovery = this.discoverLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.discovery;
    await Promise.all(this.workers.values());
  }

  /** The saved positions (a copy). */
  positions(): Checkpoint {
    return structuredClone(this.checkpoint);
  }

  private async pause(ms: number): Promise<void> {
    if (!this.running) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async listShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStart: string | undefined;
    do {
      const out = await this.o.streams.send(
        new DescribeStreamCommand({ StreamArn: this.o.streamArn, ExclusiveStartShardId: exclusiveStart }),
      );
      shards.push(...(out.StreamDescription?.Shards ?? []));
      exclusiveStart = out.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStart);
    return shards;
  }

  private async discoverLoop(): Promise<void> {
    while (this.running) {
      try {
        const shards = await this.listShards();
        const known = new Set(shards.map((s) => s.ShardId));
        for (const shard of shards) {
          const id = shard.ShardId;
          if (!id || this.workers.has(id) || this.checkpoint.shards[id]?.done) continue;
          // Parent first: a child starts only when its parent is finished or gone (trimmed).
          const parent = shard.ParentShardId;
          if (parent && known.has(parent) && !this.checkpoint.shards[parent]?.done) continue;
          const worker = this.runShard(id).finally(() => this.workers.delete(id));
          this.workers.set(id, worker);
        }
      } catch (error) {
        this.o.logger.warn('shard discovery failed; will retry', { error: String(error) });
      }
      await this.pause(this.o.shardDiscoveryMs);
    }
  }

  private async iteratorFor(shardId: string): Promise<string | undefined> {
    const after = this.checkpoint.shards[shardId]?.sequenceNumber;
    try {
      const out = await this.o.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.o.streamArn,
          ShardId: shardId,
          // TRIM_HORIZON, never LATEST: DynamoDB Local fails LATEST on an empty new table,
          // and the checkpoint already says where to resume.
          ShardIteratorType: after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
          SequenceNumber: after,
        }),
      );
      return out.ShardIterator;
    } catch (error) {
      if (error instanceof TrimmedDataAccessException && after) {
        this.o.logger.error('checkpoint is past the trim horizon; records were lost before delivery', {
          shardId,
          after,
        });
        const out = await this.o.streams.send(
          new GetShardIteratorCommand({
            StreamArn: this.o.streamArn,
            ShardId: shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        return out.ShardIterator;
      }
      throw error;
    }
  }

  private save(shardId: string, update: ShardCheckpoint): void {
    this.checkpoint.shards[shardId] = { ...this.checkpoint.shards[shardId], ...update };
    this.o.checkpoint.save(this.checkpoint);
  }

  private async runShard(shardId: string): Promise<void> {
    let iterator: string | undefined;
    let pending: LambdaStreamRecord[] = [];
    let closed = false;
    const retry = { head: '', attempts: 0, batchLimit: this.o.batchSize };
    // The last time given to a record of this shard (emulator re-dating keeps the shard's order).
    let lastDated = 0;
    while (this.running) {
      try {
        if (!closed && pending.length < this.o.batchSize) {
          iterator ??= await this.iteratorFor(shardId);
          if (!iterator) closed = true;
          else {
            const out = await this.o.streams.send(
              new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }),
            );
            const last =
              pending.at(-1)?.dynamodb.SequenceNumber ?? this.checkpoint.shards[shardId]?.sequenceNumber;
            const readAt = this.o.now();
            for (const record of out.Records ?? []) {
              const seq = record.dynamodb?.SequenceNumber;
              if (seq && last && compareSequenceNumbers(seq, last) <= 0) continue;
              const lambdaRecord = toLambdaRecord(record, this.o.streamArn, this.o.region);
              const step = this.o.emulatorDatingStepSeconds;
              if (step) {
                const d = lambdaRecord.dynamodb;
                d.ApproximateCreationDateTime = correctDating(
                  d.ApproximateCreationDateTime,
                  readAt,
                  step,
                  lastDated,
                );
                lastDated = d.ApproximateCreationDateTime;
              }
              pending.push(lambdaRecord);
            }
            iterator = out.NextShardIterator;
            if (!iterator) closed = true;
          }
        }
        if (pending.length === 0) {
          if (closed) {
            this.save(shardId, { done: true });
            this.o.logger.info('shard finished', { shardId });
            return;
          }
          await this.pause(this.o.pollIntervalMs);
          continue;
        }
        const handled = await this.deliver(
          shardId,
          pending.slice(0, this.fitting(pending, Math.min(this.o.batchSize, retry.batchLimit))),
          retry,
        );
        pending = pending.slice(handled);
      } catch (error) {
        if (error instanceof ExpiredIteratorException || error instanceof TrimmedDataAccessException) {
          // Re-read from the checkpoint; anything buffered is fetched again.
          this.o.logger.warn('shard iterator unusable; resuming from checkpoint', {
            shardId,
            error: error.name,
          });
          iterator = undefined;
          pending = [];
          closed = false;
          continue;
        }
        this.o.logger.warn('reading shard failed; will retry', { shardId, error: String(error) });
        await this.pause(this.o.retryBaseDelayMs * 5);
      }
    }
  }

  /** How many records from the front of `pending`, at most `limit`, fit in one invocation's payload (at least one). */
  private fitting(pending: LambdaStreamRecord[], limit: number): number {
    let bytes = EMPTY_EVENT_BYTES;
    let count = 0;
    for (const record of pending) {
      if (count >= limit) break;
      let size = this.recordBytes.get(record);
      if (size === undefined) {
        size = Buffer.byteLength(JSON.stringify(record)) + 1; // and its comma
        this.recordBytes.set(record, size);
      }
      if (count > 0 && bytes + size > this.o.maxPayloadBytes) break;
      bytes += size;
      count += 1;
    }
    return count;
  }

  /**
   * Makes one invocation with `batch` and returns how many records from its
   * front are finished (recorded, or given up on and sent to on-failure).
   */
  private async deliver(
    shardId: string,
    batch: LambdaStreamRecord[],
    retry: { head: string; attempts: number; batchLimit: number },
  ): Promise<number> {
    const maxAgeMs = this.o.maximumRecordAgeInSeconds * 1000;
    // Records past the maximum age are not delivered; AWS sends them to on-failure.
    const firstFresh = batch.findIndex(
      (r) => this.o.now() - r.dynamodb.ApproximateCreationDateTime * 1000 <= maxAgeMs,
    );
    const expired = firstFresh < 0 ? batch.length : firstFresh;
    if (expired > 0) {
      await this.giveUp(shardId, batch.slice(0, expired), 'RecordAgeExceeded', retry.attempts);
      return expired;
    }

    const head = batch[0]?.dynamodb.SequenceNumber ?? '';
    if (retry.head !== head) Object.assign(retry, { head, attempts: 0 });
    this.invocations++;
    let result: InvokeResult;
    try {
      result = await this.o.invoke({ Records: batch });
    } catch (error) {
      result = { functionError: `invoke failed: ${String(error)}` };
    }
    const outcome = interpretResponse(result, batch);
    if (outcome.kind === 'ok') {
      this.finish(shardId, batch, batch.length, retry);
      return batch.length;
    }
    if (outcome.kind === 'partial' && outcome.firstFailed > 0) {
      // Everything before the lowest failure is done; the retry starts at it.
      this.finish(shardId, batch, outcome.firstFailed, retry);
      retry.head = batch[outcome.firstFailed]?.dynamodb.SequenceNumber ?? '';
      retry.attempts = 1;
      await this.pause(this.o.retryBaseDelayMs);
      return outcome.firstFailed;
    }
    if (outcome.kind === 'error' && this.o.bisectBatchOnFunctionError && batch.length > 1) {
      // Bisect: retry with half the batch. Splitting does not use up the retry budget.
      retry.batchLimit = Math.ceil(batch.length / 2);
      this.o.logger.warn('function error; bisecting batch', {
        shardId,
        size: batch.length,
        error: outcome.message,
      });
      return 0;
    }
    retry.attempts++;
    if (retry.attempts > this.o.maximumRetryAttempts) {
      await this.giveUp(shardId, batch, 'RetryAttemptsExhausted', retry.attempts);
      retry.batchLimit = this.o.batchSize;
      return batch.length;
    }
    this.o.logger.warn('batch failed; retrying', {
      shardId,
      head,
      attempt: retry.attempts,
      size: batch.length,
    });
    await this.pause(Math.min(2000, this.o.retryBaseDelayMs * 2 ** (retry.attempts - 1)));
    return 0;
  }

  private finish(
    shardId: string,
    batch: LambdaStreamRecord[],
    count: number,
    retry: { attempts: number; batchLimit: number },
  ): void {
    const last = batch[count - 1];
    if (last) this.save(shardId, { sequenceNumber: last.dynamodb.SequenceNumber });
    retry.attempts = 0;
    retry.batchLimit = this.o.batchSize;
  }

  private async giveUp(
    shardId: string,
    records: LambdaStreamRecord[],
    reason: OnFailureRecord['reason'],
    attempts: number,
  ): Promise<void> {
    const failure: OnFailureRecord = {
      reason,
      shardId,
      streamArn: this.o.streamArn,
      startSequenceNumber: records[0]?.dynamodb.SequenceNumber ?? '',
      endSequenceNumber: records.at(-1)?.dynamodb.SequenceNumber ?? '',
      batchSize: records.length,
      attempts,
      records,
    };
    this.o.logger.error('records given up; sent to on-failure', { ...failure, records: undefined });
    await this.o.onFailure?.(failure);
    this.finish(shardId, records, records.length, { attempts: 0, batchLimit: 0 });
  }
}
