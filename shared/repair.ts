import {
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { changedAttributes } from './canonical';
import type { HistoryConfig } from './config';
import { GENESIS_HASH } from './constants';
import { readParkedRecord } from './failures';
import { putHistoryItem } from './history-put';
import { fromHistoryItem, headOf, sealRecord, timeKeyOf, toHistoryItem } from './history-record';
import { HistoryWriter, readChainHead } from './history-writer';
import { decodeItemKey, encodeVersion } from './keys';
import { applyExits, windowExits } from './retention';
import type { AttributeMap, HistoryRecord } from './types';
import { type Finding, Verifier } from './verify';

export interface RepairAction {
  kind: 'redrive' | 'record-current';
  itemKey?: string;
  failureId?: string;
  /** What happened, or with dryRun what would. */
  outcome: 'recorded' | 'already-recorded' | 'still-failing' | 'planned';
  detail: string;
}

export interface RepairReport {
  actions: RepairAction[];
  /** Findings repair cannot fix: tampering with history is reported, never rewritten. */
  unrepairable: Finding[];
}

const REPAIRABLE = new Set([
  'latest.mismatch',
  'latest.notRecorded',
  'latest.noHistory',
  'latest.deleteNotRecorded',
]);

/**
 * Turns repairable findings into history: re-drives parked records through the
 * stream writer, and records a missing current version from the latest table
 * (`source: repair`). Appends only; never rewrites or deletes a history record.
 */
export class Repairer {
  private readonly writer: HistoryWriter;

  constructor(
    private readonly options: { client: DynamoDBClient; config: HistoryConfig; clock?: () => Date },
  ) {
    this.writer = new HistoryWriter({ client: options.client, config: options.config });
  }

  private get clock(): () => Date {
    return this.options.clock ?? (() => new Date());
  }

  /** Re-drives every unresolved parked record; a resolved one is marked `resolvedAt`. */
  async redriveParked(dryRun: boolean): Promise<RepairAction[]> {
    const { client, config } = this.options;
    const actions: RepairAction[] = [];
    let start: AttributeMap | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: config.failuresTableName,
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) {
        const failureId = item.failureId?.S;
        if (!failureId || !item.errorCode || item.resolvedAt) continue; // chunks and resolved records
        if (dryRun) {
          actions.push({
            kind: 'redrive',
            failureId,
            itemKey: item.itemKey?.S,
            outcome: 'planned',
            detail: `re-drive ${item.errorCode.S} record`,
          });
          continue;
        }
        const record = await readParkedRecord(client, config.failuresTableName, failureId);
        const result = await this.writer.recordBatch([record]);
        const fixed =
          result.stats.recorded + result.stats.duplicates > 0 &&
          result.batchItemFailures.length === 0 &&
          result.stats.parked === 0;
        if (fixed) {
          await client.send(
            new UpdateItemCommand({
              TableName: config.failuresTableName,
              Key: { failureId: { S: failureId } },
              UpdateExpression: 'SET resolvedAt = :t',
              ExpressionAttributeValues: { ':t': { S: this.clock().toISOString() } },
            }),
          );
        }
        actions.push({
          kind: 'redrive',
          failureId,
          itemKey: item.itemKey?.S,
          outcome: fixed ? (result.stats.recorded > 0 ? 'recorded' : 'already-recorded') : 'still-failing',
          detail: fixed ? 're-driven' : `still ${item.errorCode.S}`,
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return actions;
  }

  /** Appends the latest table's current state as a new version where history lacks it. */
  async recordCurrent(itemKey: string, dryRun: boolean): Promise<RepairAction> {
    const { client, config } = this.options;
    const latest = (
      await client.send(
        new GetItemCommand({
          TableName: config.latestTableName,
          Key: decodeItemKey(itemKey, config.keySchema),
          ConsistentRead: true,
        }),
      )
    ).Item;
    const head = await readChainHead(client, config.historyTableName, itemKey);
    const own = Number(latest?.[config.attributes.version]?.N);
    const last = head?.versionNumber ?? 0;
    const versionNumber = Number.isSafeInteger(own) && own > last ? own : last + 1;
    const op = latest ? (head ? 'MODIFY' : 'INSERT') : 'REMOVE';
    if (dryRun)
      return {
        kind: 'record-current',
        itemKey,
        outcome: 'planned',
        detail: `record ${op} as v${versionNumber}`,
      };

    const recordedAt = this.clock().toISOString();
    const prevHash = head?.hash ?? GENESIS_HASH;
    const previous = head
      ? (
          await client.send(
            new GetItemCommand({
              TableName: config.historyTableName,
              Key: { itemKey: { S: itemKey }, version: { S: encodeVersion(last) } },
              ConsistentRead: true,
            }),
          )
        ).Item
      : undefined;
    const previousImage = previous ? fromHistoryItem(previous).image : undefined;
    const image = latest
      ? Object.fromEntries(Object.entries(latest).filter(([k]) => k !== config.attributes.context))
      : undefined;
    const managed = new Set([...Object.values(config.attributes), ...config.keySchema.map((k) => k.name)]);
    const fields: Omit<HistoryRecord, 'hash'> = {
      itemKey,
      version: encodeVersion(versionNumber),
      versionNumber,
      timeKey: timeKeyOf(recordedAt, versionNumber),
      op,
      source: 'repair',
      recordedAt,
      changed: changedAttributes(previousImage, image, managed),
      eventId: `repair:${versionNumber}`,
      prevHash,
    };
    if (image) fields.image = image;
    const record = sealRecord(fields, config);
    const outcome = await putHistoryItem(
      client,
      config.historyTableName,
      toHistoryItem(record),
      head === undefined,
    );
    if (!outcome.ok) {
      return {
        kind: 'record-current',
        itemKey,
        outcome: 'still-failing',
        detail: 'history moved while repairing; run repair again',
      };
    }
    if (config.retention) {
      // The repaired version supersedes the old head: it leaves the window as after any write.
      const head = headOf(record);
      await applyExits(
        client,
        config.historyTableName,
        itemKey,
        windowExits(config.retention, head, 1, [head]),
      );
    }
    return {
      kind: 'record-current',
      itemKey,
      outcome: 'recorded',
      detail: `recorded ${op} as v${versionNumber}`,
    };
  }

  /** Re-drives parked records, then fixes every repairable finding of `verify`. */
  async repair(options: { dryRun?: boolean; itemKey?: string } = {}): Promise<RepairReport> {
    const dryRun = options.dryRun ?? false;
    const actions = options.itemKey ? [] : await this.redriveParked(dryRun);
    const verifier = new Verifier({ client: this.options.client, config: this.options.config });
    const report = options.itemKey ? await verifier.verifyItem(options.itemKey) : await verifier.verifyAll();
    const unrepairable: Finding[] = [];
    const fixed = new Set<string>();
    for (const finding of report.findings) {
      if (!REPAIRABLE.has(finding.kind)) {
        unrepairable.push(finding);
        continue;
      }
      if (fixed.has(finding.itemKey)) continue;
      fixed.add(finding.itemKey);
      actions.push(await this.recordCurrent(finding.itemKey, dryRun));
    }
    return { actions, unrepairable };
  }
}
