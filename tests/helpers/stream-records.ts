import type { LambdaStreamRecord } from '../../local/event-source-mapping';
import type { WireValue } from '../../shared/core/wire';

let sequence = 1000n;
let eventCounter = 0;

export interface RecordSpec {
  op?: 'INSERT' | 'MODIFY' | 'REMOVE';
  keys?: Record<string, WireValue>;
  newImage?: Record<string, WireValue>;
  oldImage?: Record<string, WireValue>;
  sequenceNumber?: string;
  eventId?: string;
  /** Epoch seconds. */
  at?: number;
  ttl?: boolean;
  /** The event source; a made-up stream's ARN unless given. */
  arn?: string;
}

/**
 * An AWS-shaped DynamoDB stream record as Lambda receives it (JSON), with
 * fresh, increasing sequence numbers unless given.
 */
export function streamRecord(spec: RecordSpec = {}): LambdaStreamRecord {
  const op = spec.op ?? 'INSERT';
  const keys = spec.keys ?? { id: { S: 'item-1' } };
  sequence += 100n;
  const record: LambdaStreamRecord = {
    eventID: spec.eventId ?? `event-${++eventCounter}`,
    eventName: op,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN:
      spec.arn ?? 'arn:aws:dynamodb:us-east-1:123456789012:table/latest/stream/2026-01-01T00:00:00.000',
    dynamodb: {
      ApproximateCreationDateTime: spec.at ?? 1_795_000_000,
      Keys: keys,
      SequenceNumber: spec.sequenceNumber ?? sequence.toString().padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
  if (op !== 'REMOVE') record.dynamodb.NewImage = spec.newImage ?? { ...keys, version: { N: '1' } };
  if (spec.oldImage) record.dynamodb.OldImage = spec.oldImage;
  if (spec.ttl) record.userIdentity = { type: 'Service', principalId: 'dynamodb.amazonaws.com' };
  return record;
}

/** A string attribute value. */
export const S = (value: string): WireValue => ({ S: value });
/** A number attribute value. */
export const N = (value: number | string): WireValue => ({ N: String(value) });
