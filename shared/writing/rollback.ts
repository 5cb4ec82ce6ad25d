import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HistoryConfig } from '../core/config';
import { ConfigurationError, ItemNotFoundError, ValidationError, VersionConflictError } from '../core/errors';
import {
  boolean,
  type Infer,
  number,
  object,
  optional,
  record,
  SchemaError,
  string,
  unknown,
} from '../core/schema';
import type { AttributeMap } from '../core/types';
import { HistoryReader } from '../reading/audit';
import { imageToJson, type Json } from '../reading/json-values';
import { sealLabel } from '../recording/rollback-label';
import { type Item, VersionedTable } from './versioned-table';

/** The largest rollback payload accepted, in bytes of JSON. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

const version = number({ integer: true, min: 1 });
const rollbackPayload = object(
  {
    /** The recorded table; needed only when the deployment records several. */
    table: optional(string({ min: 1, max: 255 })),
    key: record(unknown),
    toVersion: version,
    expectedVersion: optional(number({ integer: true, min: 0 })),
    actor: optional(string({ min: 1, max: 256 })),
    reason: optional(string({ max: 1024 })),
    dryRun: optional(boolean),
  },
  { strict: true },
);

export type RollbackRequest = Infer<typeof rollbackPayload>;

/** The rollback contract's response (README, "Rollback"). */
export interface RollbackResult {
  key: Item;
  restoredVersion: number;
  /** The version the item had before; for a deleted item, its tombstone's version. */
  previousVersion: number;
  newVersion: number;
  dryRun: boolean;
  /** The image written, or null when the rollback deletes the item. */
  image: { [key: string]: Json } | null;
}

/**
 * Checks an untrusted rollback payload: exactly the contract's fields, of the
 * right types, and a key of exactly the table's key attributes.
 * @throws ValidationError
 */
export function parseRollbackRequest(payload: unknown): RollbackRequest {
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(payload) ?? '');
  } catch {
    throw new ValidationError('rollback payload is not JSON');
  }
  if (size > MAX_PAYLOAD_BYTES)
    throw new ValidationError(`rollback payload is ${size} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
  try {
    return rollbackPayload(payload, 'payload');
  } catch (error) {
    if (error instanceof SchemaError)
      throw new ValidationError(
        `invalid rollback payload: ${error.message}`,
        { path: error.path },
        { cause: error },
      );
    throw error;
  }
}

/**
 * Rollback: writes an old image back as a *new* version, through the same
 * version check as any write. History is never edited; the rollback is one
 * more version, labelled `source: rollback` with `restoredFrom` and `reason`.
 */
export class RollbackService {
  private readonly reader: HistoryReader;
  private readonly table: VersionedTable;
  private readonly clock: () => Date;
  readonly config: HistoryConfig;

  constructor(options: { client: DynamoDBClient; config: HistoryConfig; clock?: () => Date }) {
    const { client, config } = options;
    this.config = config;
    this.clock = options.clock ?? (() => new Date());
    this.reader = new HistoryReader({ client, config });
    this.table = new VersionedTable({
      client,
      tableName: config.latestTableName,
      keySchema: config.keySchema,
      attributes: config.attributes,
      clock: this.clock,
      historyTableName: config.historyTableName,
    });
  }

  /**
   * @throws ValidationError, ItemNotFoundError (no history), VersionNotFoundError, VersionConflictError
   */
  async rollback(request: RollbackRequest, options: { caller?: string } = {}): Promise<RollbackResult> {
    const { labelKey } = this.config;
    if (!labelKey)
      throw new ConfigurationError(
        'rollback needs a label key (LABEL_KMS_KEY_ID or LABEL_SECRET) so that history can tell its label from a forgery',
      );
    const { itemKey } = this.table.commands.key(request.key);
    const target = await this.reader.getVersion(itemKey, request.toVersion);
    const head = await this.reader.latest(itemKey);
    if (!head) throw new ItemNotFoundError(itemKey);
    const currentImage = await this.table.getImage(request.key);
    const versionAttribute = this.table.commands.attributes.version;
    const raw = currentImage?.[versionAttribute]?.N;
    // The stored version, exactly as the version check must compare it (even 3.5, or none: 0).
    const current: number | 'absent' = currentImage ? Number(raw ?? 0) : 'absent';
    // Only a whole, positive version takes part in the numbering; anything else is a legacy value.
    const usable = typeof current === 'number' && Number.isSafeInteger(current) && current > 0 ? current : 0;
    // A deleted item whose tombstone the stream has not recorded yet (it lags): the tombstone will
    // take the head's next version, so the restored item must come after it.
    const pendingTombstone = current === 'absent' && head.op !== 'REMOVE';
    const historyNext = head.versionNumber + (pendingTombstone ? 1 : 0);
    // A deleted item's version, for the caller, is its tombstone's (recorded or coming).
    const previousVersion = current === 'absent' ? historyNext : usable || head.versionNumber;

    if (request.expectedVersion !== undefined && request.expectedVersion !== previousVersion) {
      throw new VersionConflictError(request.expectedVersion, current === 'absent' ? undefined : current);
    }
    // The new version follows both the item and its history, so history records it under its own number.
    const newVersion = Math.max(usable, historyNext) + 1;
    const result = {
      key: request.key,
      restoredVersion: request.toVersion,
      previousVersion,
      newVersion,
      dryRun: request.dryRun ?? false,
    };

    if (target.op === 'REMOVE' || !target.image) {
      if (current === 'absent') {
        throw new ValidationError(
          `item ${itemKey} is already deleted; rolling back to tombstone v${request.toVersion} changes nothing`,
        );
      }
      if (!request.dryRun) await this.table.remove(request.key, current);
      return { ...result, image: null };
    }

    // Where the caller is known (an IAM-authenticated request) it is the actor; otherwise the invoker's text is.
    const actor = options.caller ?? request.actor;
    const label = await sealLabel(labelKey, this.config.latestTableName, itemKey, {
      version: newVersion,
      restoredFrom: request.toVersion,
      reason: request.reason,
      actor,
      actorSource: options.caller !== undefined ? 'caller' : 'claimed',
    });
    const { input } = this.table.commands.restore(target.image, {
      current,
      newVersion,
      now: this.clock(),
      createdAt:
        createdAtOf(currentImage, this.table.commands.attributes.createdAt) ??
        createdAtOf(target.image, this.table.commands.attributes.createdAt),
      actor,
      label,
    });
    if (!request.dryRun) await this.table.restore(input, itemKey, current);
    const written = { ...(input.Item as AttributeMap) };
    delete written[this.table.commands.attributes.context];
    return { ...result, image: imageToJson(written) };
  }
}

function createdAtOf(image: AttributeMap | undefined, attribute: string): string | undefined {
  return image?.[attribute]?.S;
}
