import {
  type AttributeValue,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall, type NativeAttributeValue, unmarshall } from '@aws-sdk/util-dynamodb';
import { conditionFailureItem, isAwsValidation, isConditionalCheckFailed } from '../aws/aws-errors';
import { sleep } from '../core/concurrency';
import type { ManagedAttributes } from '../core/config';
import { DYNAMODB_ITEM_LIMIT_BYTES } from '../core/constants';
import { ItemExistsError, ItemNotFoundError, ValidationError, VersionConflictError } from '../core/errors';
import { itemSize } from '../core/item-size';
import { encodeItemKey, keyOf } from '../core/keys';
import type { AttributeMap, KeySchema } from '../core/types';
import { ExpressionBuilder } from './expressions';

export type Item = Record<string, NativeAttributeValue>;

export interface WriteOptions {
  /** Who makes the change; stored in the `modifiedBy` attribute and copied to history as `actor`. */
  actor?: string;
}

export interface VersionedTableOptions {
  client: DynamoDBClient;
  tableName: string;
  keySchema: KeySchema;
  attributes: ManagedAttributes;
  clock?: () => Date;
  /**
   * The history table. When given, `create()` of an item that was deleted before
   * continues its history's numbering (a tombstone at v9: the new item is v10),
   * so the item's version and its history agree after a re-create. It costs one
   * Query of the history table per create. Without it, a re-created item starts
   * at 1 and history records its versions as `legacy`.
   */
  historyTableName?: string;
}

const MARSHALL = { removeUndefinedValues: true, convertClassInstanceToMap: false } as const;

function checkExpectedVersion(expectedVersion: unknown): number {
  if (typeof expectedVersion !== 'number' || !Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw new ValidationError(
      `expectedVersion must be a non-negative safe integer, got ${String(expectedVersion)}`,
      {
        expectedVersion,
      },
    );
  }
  return expectedVersion;
}

function versionOf(item: AttributeMap | undefined, attribute: string): number | undefined {
  const raw = item?.[attribute]?.N;
  return raw === undefined ? undefined : Number(raw);
}

/**
 * The pure half of the writer: builds the conditional command inputs without
 * touching a client, so they can be checked as plain objects.
 */
export class VersionedCommands {
  constructor(
    readonly tableName: string,
    readonly keySchema: KeySchema,
    readonly attributes: ManagedAttributes,
  ) {}

  /** Marshalls and checks a key: exactly the key attributes, of the schema's types. */
  key(key: Item): { key: AttributeMap; itemKey: string } {
    if (key === null || typeof key !== 'object') throw new ValidationError('key must be an object');
    // Checked before marshalling, which would silently drop a name such as `__proto__`.
    const extra = Object.keys(key).filter((name) => !this.keySchema.some((a) => a.name === name));
    if (extra.length > 0)
      throw new ValidationError(`key has attributes outside the key schema: ${extra.join(', ')}`, { extra });
    let marshalled: AttributeMap;
    try {
      marshalled = marshall(key, MARSHALL) as AttributeMap;
    } catch (cause) {
      // For example a number past what a JavaScript number holds exactly (1e21).
      throw new ValidationError(`key cannot be stored as given: ${(cause as Error).message}`, {}, { cause });
    }
    return { key: marshalled, itemKey: encodeItemKey(marshalled, this.keySchema) };
  }

  private managedNames(): string[] {
    return Object.values(this.attributes);
  }

  private checkSize(item: AttributeMap, itemKey: string): void {
    const size = itemSize(item);
    if (size > DYNAMODB_ITEM_LIMIT_BYTES) {
      throw new ValidationError(`item ${itemKey} is about ${size} bytes, over DynamoDB's 400 KB item limit`, {
        itemKey,
        size,
      });
    }
  }

  /**
   * The version condition: the item exists with exactly `expectedVersion`.
   * Version 0 means an item that exists but has never had a version (written
   * before adoption), so legacy items can be brought under locking.
   */
  private versionCondition(expr: ExpressionBuilder, expectedVersion: number): string {
    const v = expr.name(this.attributes.version);
    if (expectedVersion === 0)
      return `attribute_exists(${expr.name(this.keySchema[0].name)}) AND attribute_not_exists(${v})`;
    return `${v} = ${expr.value({ N: String(expectedVersion) })}`;
  }

  private userItem(item: Item, allowed: ReadonlySet<string>): { marshalled: AttributeMap; itemKey: string } {
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      throw new ValidationError('item must be an object');
    const clashes = this.managedNames().filter((n) => n in item && !allowed.has(n));
    if (clashes.length > 0) {
      throw new ValidationError(
        `item sets managed attribute(s) ${clashes.join(', ')}; the writer maintains them`,
        {
          attributes: clashes,
        },
      );
    }
    const marshalled = marshall(item, MARSHALL) as AttributeMap;
    const itemKey = encodeItemKey(keyOf(marshalled, this.keySchema), this.keySchema);
    return { marshalled, itemKey };
  }

  create(
    item: Item,
    now: Date,
    options: WriteOptions = {},
    version = 1,
  ): { input: PutItemCommandInput; itemKey: string } {
    const { marshalled, itemKey } = this.userItem(item, new Set());
    const expr = new ExpressionBuilder();
    const full = this.stamp(marshalled, version, now.toISOString(), now.toISOString(), options.actor);
    this.checkSize(full, itemKey);
    return {
      itemKey,
      input: {
        TableName: this.tableName,
        Item: full,
        // Create only if absent: the partition key is on every stored item.
        ConditionExpression: `attribute_not_exists(${expr.name(this.keySchema[0].name)})`,
        ExpressionAttributeNames: expr.names,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /**
   * Full replacement at `expectedVersion + 1`. `createdAt` is kept: taken from
   * `createdAt` when the caller passes the stored value, otherwise the
   * condition demands the item has none, and the writer retries with the stored one.
   */
  put(
    item: Item,
    expectedVersion: number,
    now: Date,
    options: WriteOptions = {},
    createdAt?: string,
  ): { input: PutItemCommandInput; itemKey: string } {
    checkExpectedVersion(expectedVersion);
    const { version: vName, createdAt: cName, modifiedAt, modifiedBy, context } = this.attributes;
    const { marshalled, itemKey } = this.userItem(
      item,
      new Set([vName, cName, modifiedAt, modifiedBy, context]),
    );
    const passedVersion = versionOf(marshalled, vName);
    if (marshalled[vName] !== undefined && passedVersion !== expectedVersion) {
      throw new ValidationError(
        `item carries ${vName} ${String(passedVersion)} but expectedVersion is ${expectedVersion}`,
      );
    }
    const keepCreatedAt = createdAt ?? marshalled[cName]?.S;
    const expr = new ExpressionBuilder();
    const cond = [this.versionCondition(expr, expectedVersion)];
    cond.push(
      keepCreatedAt === undefined
        ? `attribute_not_exists(${expr.name(cName)})`
        : `${expr.name(cName)} = ${expr.value({ S: keepCreatedAt })}`,
    );
    const full = this.stamp(
      marshalled,
      expectedVersion + 1,
      keepCreatedAt ?? now.toISOString(),
      now.toISOString(),
      options.actor,
    );
    this.checkSize(full, itemKey);
    return {
      itemKey,
      input: {
        TableName: this.tableName,
        Item: full,
        ConditionExpression: cond.join(' AND '),
        ExpressionAttributeNames: expr.names,
        ExpressionAttributeValues: expr.valuesOrUndefined(),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /** Sets (or, for `undefined` values, removes) top-level attributes at `expectedVersion + 1`. */
  update(
    key: Item,
    expectedVersion: number,
    changes: Item,
    now: Date,
    options: WriteOptions = {},
  ): { input: UpdateItemCommandInput; itemKey: string } {
    checkExpectedVersion(expectedVersion);
    const { key: marshalledKey, itemKey } = this.key(key);
    if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) {
      throw new ValidationError('changes must be an object');
    }
    const names = Object.keys(changes);
    const keyClash = names.filter((n) => this.keySchema.some((a) => a.name === n));
    if (keyClash.length > 0)
      throw new ValidationError(`changes may not set key attribute(s) ${keyClash.join(', ')}`);
    const clashes = names.filter((n) => this.managedNames().includes(n));
    if (clashes.length > 0) {
      throw new ValidationError(
        `changes set managed attribute(s) ${clashes.join(', ')}; the writer maintains them`,
        {
          attributes: clashes,
        },
      );
    }
    const expr = new ExpressionBuilder();
    const set: string[] = [];
    const remove: string[] = [];
    for (const name of names) {
      const value = changes[name];
      if (value === undefined) remove.push(expr.name(name));
      else
        set.push(`${expr.name(name)} = ${expr.value(marshall({ value }, MARSHALL).value as AttributeValue)}`);
    }
    const condition = this.versionCondition(expr, expectedVersion);
    const { version, createdAt, modifiedAt, modifiedBy } = this.attributes;
    const nowIso = expr.value({ S: now.toISOString() });
    set.push(`${expr.name(version)} = ${expr.value({ N: String(expectedVersion + 1) })}`);
    set.push(`${expr.name(createdAt)} = if_not_exists(${expr.name(createdAt)}, ${nowIso})`);
    set.push(`${expr.name(modifiedAt)} = ${nowIso}`);
    if (options.actor !== undefined)
      set.push(`${expr.name(modifiedBy)} = ${expr.value({ S: options.actor })}`);
    else remove.push(expr.name(modifiedBy));
    // A rollback's context labels only its own version; an ordinary write clears it.
    remove.push(expr.name(this.attributes.context));
    return {
      itemKey,
      input: {
        TableName: this.tableName,
        Key: marshalledKey,
        UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ConditionExpression: condition,
        ExpressionAttributeNames: expr.names,
        ExpressionAttributeValues: expr.values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  remove(key: Item, expectedVersion: number): { input: DeleteItemCommandInput; itemKey: string } {
    checkExpectedVersion(expectedVersion);
    const { key: marshalledKey, itemKey } = this.key(key);
    const expr = new ExpressionBuilder();
    return {
      itemKey,
      input: {
        TableName: this.tableName,
        Key: marshalledKey,
        ConditionExpression: this.versionCondition(expr, expectedVersion),
        ExpressionAttributeNames: expr.names,
        ExpressionAttributeValues: expr.valuesOrUndefined(),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  /**
   * Writes an old image back as a new version (rollback). The image's managed
   * attributes are replaced; the write is conditional on the item's current
   * state: absent, present without a version (0), or at `current`.
   */
  restore(
    image: AttributeMap,
    options: {
      current: number | 'absent';
      newVersion: number;
      now: Date;
      createdAt: string | undefined;
      actor?: string | undefined;
      /** The sealed rollback label (`sealLabel`), stored in the context attribute. */
      label: AttributeValue;
    },
  ): { input: PutItemCommandInput; itemKey: string } {
    const managed = new Set(this.managedNames());
    const data = Object.fromEntries(Object.entries(image).filter(([name]) => !managed.has(name)));
    const itemKey = encodeItemKey(keyOf(data, this.keySchema), this.keySchema);
    const nowIso = options.now.toISOString();
    const item = this.stamp(data, options.newVersion, options.createdAt ?? nowIso, nowIso, options.actor);
    item[this.attributes.context] = options.label;
    this.checkSize(item, itemKey);
    const expr = new ExpressionBuilder();
    const condition =
      options.current === 'absent'
        ? `attribute_not_exists(${expr.name(this.keySchema[0].name)})`
        : this.versionCondition(expr, options.current);
    return {
      itemKey,
      input: {
        TableName: this.tableName,
        Item: item,
        ConditionExpression: condition,
        ExpressionAttributeNames: expr.names,
        ExpressionAttributeValues: expr.valuesOrUndefined(),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }

  private stamp(
    item: AttributeMap,
    version: number,
    createdAt: string,
    modifiedAt: string,
    actor?: string,
  ): AttributeMap {
    const { version: v, createdAt: c, modifiedAt: m, modifiedBy: b, context: x } = this.attributes;
    const { [b]: _actor, [x]: _context, ...rest } = item;
    const out: AttributeMap = {
      ...rest,
      [v]: { N: String(version) },
      [c]: { S: createdAt },
      [m]: { S: modifiedAt },
    };
    if (actor !== undefined) out[b] = { S: actor };
    return out;
  }
}

/**
 * Writes to the latest table with optimistic locking: create only if absent,
 * change only if `version` is still the one the writer read. Each write returns
 * the item's new version; a lost race throws {@link VersionConflictError}.
 *
 * @example
 * const orders = new VersionedTable({ client, tableName, keySchema, attributes });
 * const v1 = await orders.create({ id: 'order-1', status: 'new' });
 * const v2 = await orders.update({ id: 'order-1' }, v1, { status: 'paid' }, { actor: 'alice' });
 */
export class VersionedTable {
  readonly commands: VersionedCommands;
  private readonly client: DynamoDBClient;
  private readonly clock: () => Date;

  private readonly historyTableName: string | undefined;

  constructor(options: VersionedTableOptions) {
    this.client = options.client;
    this.historyTableName = options.historyTableName;
    this.clock = options.clock ?? (() => new Date());
    this.commands = new VersionedCommands(options.tableName, options.keySchema, options.attributes);
  }

  private get versionAttribute(): string {
    return this.commands.attributes.version;
  }

  /** Reads the current item (strongly consistent), or `undefined`. */
  async get(key: Item): Promise<{ item: Item; version: number } | undefined> {
    const { key: marshalled } = this.commands.key(key);
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.commands.tableName, Key: marshalled, ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    return { item: unmarshall(out.Item), version: versionOf(out.Item, this.versionAttribute) ?? 0 };
  }

  /** The current item in DynamoDB JSON (strongly consistent), or `undefined`. */
  async getImage(key: Item): Promise<AttributeMap | undefined> {
    const { key: marshalled } = this.commands.key(key);
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.commands.tableName, Key: marshalled, ConsistentRead: true }),
    );
    return out.Item;
  }

  /** Executes a {@link VersionedCommands.restore}. @throws VersionConflictError, ItemExistsError */
  async restore(input: PutItemCommandInput, itemKey: string, expected: number | 'absent'): Promise<void> {
    try {
      await this.client.send(new PutItemCommand(input));
    } catch (error) {
      if (expected === 'absent' && isConditionalCheckFailed(error)) {
        throw new ItemExistsError(itemKey, versionOf(conditionFailureItem(error), this.versionAttribute), {
          cause: error,
        });
      }
      throw this.conflict(error, itemKey, expected === 'absent' ? 0 : expected);
    }
  }

  /** Creates the item at version 1. @throws ItemExistsError */
  async create(item: Item, options: WriteOptions = {}): Promise<number> {
    const now = this.clock();
    const { itemKey } = this.commands.create(item, now, options);
    const version = await this.firstVersion(itemKey);
    const { input } = this.commands.create(item, now, options, version);
    try {
      await this.client.send(new PutItemCommand(input));
      return version;
    } catch (error) {
      if (isConditionalCheckFailed(error)) {
        throw new ItemExistsError(itemKey, versionOf(conditionFailureItem(error), this.versionAttribute), {
          cause: error,
        });
      }
      throw translate(error);
    }
  }

  /**
   * The version a new item starts at: 1, or with a history table the version after
   * its history's newest record. A newest record that is not a tombstone means a
   * delete the stream has not recorded yet, which will take the next version.
   */
  private async firstVersion(itemKey: string): Promise<number> {
    if (!this.historyTableName) return 1;
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.historyTableName,
        // The newest item of the partition: a record, or a bare chain marker (no versionNumber).
        KeyConditionExpression: '#k = :k',
        ExpressionAttributeNames: { '#k': 'itemKey', '#n': 'versionNumber', '#o': 'op' },
        ExpressionAttributeValues: { ':k': { S: itemKey } },
        ProjectionExpression: '#n, #o',
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const newest = out.Items?.[0];
    const last = Number(newest?.versionNumber?.N ?? 0);
    if (!newest?.versionNumber || !Number.isSafeInteger(last)) return 1;
    return last + (newest.op?.S === 'REMOVE' ? 1 : 2);
  }

  /** Replaces the whole item. @throws VersionConflictError, ItemNotFoundError */
  async put(item: Item, expectedVersion: number, options: WriteOptions = {}): Promise<number> {
    let { input, itemKey } = this.commands.put(item, expectedVersion, this.clock(), options);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new PutItemCommand(input));
        return expectedVersion + 1;
      } catch (error) {
        const current = conditionFailureItem(error);
        const storedCreatedAt = current?.[this.commands.attributes.createdAt]?.S;
        const sameVersion = (versionOf(current, this.versionAttribute) ?? 0) === expectedVersion;
        // The caller did not pass createdAt but the item has one: keep it, under the same version check.
        if (
          isConditionalCheckFailed(error) &&
          sameVersion &&
          storedCreatedAt !== undefined &&
          attempt === 0
        ) {
          ({ input, itemKey } = this.commands.put(
            item,
            expectedVersion,
            this.clock(),
            options,
            storedCreatedAt,
          ));
          continue;
        }
        throw this.conflict(error, itemKey, expectedVersion);
      }
    }
  }

  /** Changes some attributes; `undefined` values remove them. @throws VersionConflictError, ItemNotFoundError */
  async update(
    key: Item,
    expectedVersion: number,
    changes: Item,
    options: WriteOptions = {},
  ): Promise<number> {
    const { input, itemKey } = this.commands.update(key, expectedVersion, changes, this.clock(), options);
    try {
      await this.client.send(new UpdateItemCommand(input));
      return expectedVersion + 1;
    } catch (error) {
      throw this.conflict(error, itemKey, expectedVersion);
    }
  }

  /**
   * Deletes the item. Returns the version of its tombstone in history
   * (`expectedVersion + 1`). @throws VersionConflictError, ItemNotFoundError
   */
  async remove(key: Item, expectedVersion: number): Promise<number> {
    const { input, itemKey } = this.commands.remove(key, expectedVersion);
    try {
      await this.client.send(new DeleteItemCommand(input));
      return expectedVersion + 1;
    } catch (error) {
      throw this.conflict(error, itemKey, expectedVersion);
    }
  }

  private conflict(error: unknown, itemKey: string, expectedVersion: number): Error {
    if (!isConditionalCheckFailed(error)) return translate(error);
    const current = conditionFailureItem(error);
    if (!current) return new ItemNotFoundError(itemKey, { cause: error });
    return new VersionConflictError(expectedVersion, versionOf(current, this.versionAttribute), {
      cause: error,
    });
  }
}

function translate(error: unknown): Error {
  if (isAwsValidation(error))
    return new ValidationError(
      `DynamoDB rejected the write: ${(error as Error).message}`,
      {},
      { cause: error },
    );
  return error instanceof Error ? error : new Error(String(error));
}

export interface RetryOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

/**
 * Runs a read-modify-write, retrying it when it loses an optimistic-locking
 * race. Bounded attempts, exponential backoff with full jitter, so contending
 * writers spread out instead of colliding again in lockstep.
 *
 * @example
 * await retryOnConflict(async () => {
 *   const current = await orders.get({ id: 'order-1' });
 *   return orders.update({ id: 'order-1' }, current!.version, { total: current!.item.total + 1 });
 * });
 */
export async function retryOnConflict<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const { maxAttempts = 8, baseDelayMs = 10, maxDelayMs = 500, random = Math.random } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= maxAttempts) throw error;
      await sleep(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
    }
  }
}
