import { TTL_PRINCIPAL } from '../core/constants';
import { ItemKeyTooLongError, MalformedRecordError } from '../core/errors';
import { encodeItemKey, keyOf } from '../core/keys';
import { type Infer, number, object, oneOf, optional, record, string, unknown } from '../core/schema';
import type { AttributeMap, KeySchema, Operation } from '../core/types';
import { fromWireMap, WireFormatError } from '../core/wire';
import type { LabelVerdict } from './rollback-label';

/** A DynamoDB stream record as Lambda receives it, checked and decoded. */
export interface StreamChange {
  eventId: string;
  op: Operation;
  itemKey: string;
  keys: AttributeMap;
  newImage: AttributeMap | undefined;
  oldImage: AttributeMap | undefined;
  /** Decimal digits; compare with {@link compareSequenceNumbers}, never as numbers. */
  sequenceNumber: string;
  /** Epoch milliseconds, from ApproximateCreationDateTime (epoch seconds on the wire). */
  createdAtMs: number;
  /** A TTL deletion by DynamoDB itself. */
  isTtlDelete: boolean;
  /** Set by the writer: what the rollback label the write claims proves, if it claims one. */
  label?: LabelVerdict | undefined;
}

const attributeMap = record(unknown);
/** The latest instant a stream record may carry (9999-12-31, in epoch seconds): JavaScript dates end near there. */
const MAX_EPOCH_SECONDS = 253_402_300_799;

const envelope = object({
  eventID: string({ min: 1, max: 256 }),
  eventName: oneOf(['INSERT', 'MODIFY', 'REMOVE'] as const),
  userIdentity: optional(object({ type: optional(string()), principalId: optional(string()) })),
  dynamodb: object({
    ApproximateCreationDateTime: number({ min: 0, max: MAX_EPOCH_SECONDS }),
    Keys: attributeMap,
    NewImage: optional(attributeMap),
    OldImage: optional(attributeMap),
    SequenceNumber: string({ pattern: /^\d{1,40}$/ }),
  }),
});

/** The sequence number of a raw record if it has a usable one, for reporting failures of malformed records. */
export function rawSequenceNumber(raw: unknown): string | undefined {
  const seq = (raw as { dynamodb?: { SequenceNumber?: unknown } } | null)?.dynamodb?.SequenceNumber;
  return typeof seq === 'string' && /^\d{1,40}$/.test(seq) ? seq : undefined;
}

/** Stream sequence numbers are decimal strings too long for a double: compare as big integers. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Checks and decodes one raw stream record.
 * @throws MalformedRecordError when anything about it is off; such a record is parked, not retried.
 */
export function parseStreamRecord(raw: unknown, schema: KeySchema): StreamChange {
  let r: Infer<typeof envelope>;
  try {
    r = envelope(raw, '$');
  } catch (cause) {
    throw new MalformedRecordError(
      `malformed stream record: ${(cause as Error).message}`,
      { sequenceNumber: rawSequenceNumber(raw) },
      { cause },
    );
  }
  try {
    const keys = fromWireMap(r.dynamodb.Keys, '$.dynamodb.Keys');
    const newImage = r.dynamodb.NewImage && fromWireMap(r.dynamodb.NewImage, '$.dynamodb.NewImage');
    const oldImage = r.dynamodb.OldImage && fromWireMap(r.dynamodb.OldImage, '$.dynamodb.OldImage');
    if (r.eventName !== 'REMOVE' && newImage === undefined) {
      throw new WireFormatError(
        '$.dynamodb.NewImage',
        `${r.eventName} needs a NewImage (stream view type NEW_AND_OLD_IMAGES)`,
      );
    }
    const itemKey = encodeItemKey(keys, schema);
    // The images must be of the item the record names: a record whose NewImage is another item's
    // (forged, or corrupt) would write one item's data into another's history.
    for (const [path, image] of [
      ['$.dynamodb.NewImage', newImage],
      ['$.dynamodb.OldImage', oldImage],
    ] as const) {
      if (image && encodeItemKey(keyOf(image, schema), schema) !== itemKey)
        throw new WireFormatError(path, 'is the image of another item than Keys');
    }
    return {
      eventId: r.eventID,
      op: r.eventName,
      itemKey,
      keys,
      newImage: r.eventName === 'REMOVE' ? undefined : newImage,
      oldImage,
      sequenceNumber: r.dynamodb.SequenceNumber,
      createdAtMs: Math.round(r.dynamodb.ApproximateCreationDateTime * 1000),
      isTtlDelete:
        r.eventName === 'REMOVE' &&
        r.userIdentity?.type === 'Service' &&
        r.userIdentity.principalId === TTL_PRINCIPAL,
    };
  } catch (cause) {
    // A key too long to record is a record that can never be written: parked under its own code.
    if (cause instanceof ItemKeyTooLongError) throw cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new MalformedRecordError(
      `malformed stream record: ${message}`,
      { sequenceNumber: r.dynamodb.SequenceNumber },
      { cause },
    );
  }
}
