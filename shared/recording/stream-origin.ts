import { ConfigurationError, UntrustedRecordError } from '../core/errors';
import type { StreamChange } from './stream-record';

/**
 * What a record must show to be taken as coming from the recorded table's own
 * stream. The checks are pure and cost no request: a record really read from the
 * stream always passes them.
 */
export interface StreamTrust {
  /** The stream's ARN; every record's `eventSourceARN` must be exactly this. */
  streamArn: string;
  /**
   * The oldest a record may be. DynamoDB Streams trims records after 24 hours
   * (Developer Guide, "Change data capture for DynamoDB Streams"), so an older
   * date cannot come from the stream. Default 25 hours: the 24 plus an hour's margin.
   */
  maxAgeMs?: number;
  /** How far past this writer's clock a record's date may be (clock skew). Default 5 minutes. */
  maxAheadMs?: number;
}

export const DEFAULT_MAX_AGE_MS = 25 * 3600_000;
export const DEFAULT_MAX_AHEAD_MS = 5 * 60_000;

/** The ARN shape DynamoDB gives a table's stream: `arn:<partition>:dynamodb:<region>:<account>:table/<name>/stream/<label>`. */
const STREAM_ARN =
  /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}\/stream\/[^\s/]{1,64}$/;

/** True when `arn` has the shape of a DynamoDB stream ARN. */
export const isStreamArn = (arn: string): boolean => STREAM_ARN.test(arn);

/**
 * Checks that a parsed record comes from the trusted stream and carries a date
 * that a record still in that stream can carry.
 * @throws UntrustedRecordError (`record.foreignStream`, `record.outOfWindow`): parked, never recorded.
 */
export function checkOrigin(raw: unknown, change: StreamChange, trust: StreamTrust, nowMs: number): void {
  const arn = (raw as { eventSourceARN?: unknown } | null)?.eventSourceARN;
  if (arn !== trust.streamArn) {
    throw new UntrustedRecordError(
      'record.foreignStream',
      `record ${change.eventId} names event source ${typeof arn === 'string' ? JSON.stringify(arn.slice(0, 300)) : 'none'}, not the recorded stream`,
      { eventId: change.eventId, itemKey: change.itemKey },
    );
  }
  const oldest = nowMs - (trust.maxAgeMs ?? DEFAULT_MAX_AGE_MS);
  const newest = nowMs + (trust.maxAheadMs ?? DEFAULT_MAX_AHEAD_MS);
  if (change.createdAtMs < oldest || change.createdAtMs > newest) {
    throw new UntrustedRecordError(
      'record.outOfWindow',
      `record ${change.eventId} is dated ${new Date(change.createdAtMs).toISOString()}, outside what the stream can hold (${new Date(oldest).toISOString()} to ${new Date(newest).toISOString()})`,
      { eventId: change.eventId, itemKey: change.itemKey, createdAtMs: change.createdAtMs },
    );
  }
}

/**
 * The trusted stream of one recorded table: its `streamArn` (LATEST_STREAM_ARN, or
 * its entry in RECORDED_TABLES). writeHistory refuses to start without one.
 * @throws ConfigurationError
 */
export function trustOf(streamArn: string | undefined, variable = 'LATEST_STREAM_ARN'): StreamTrust {
  const arn = streamArn ?? '';
  if (!isStreamArn(arn)) {
    throw new ConfigurationError(
      arn
        ? `${variable} is not a DynamoDB stream ARN: "${arn.slice(0, 300)}"`
        : `${variable} is not set: writeHistory records only the stream it names`,
    );
  }
  return { streamArn: arn };
}
