import {
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ServerClock } from '../aws/server-clock';
import { canonicalItemJson } from '../core/canonical';
import { mapLimit, sleep } from '../core/concurrency';
import type { HistoryConfig } from '../core/config';
import { HistoryError } from '../core/errors';
import { decodeItemKey } from '../core/keys';
import type { AttributeMap } from '../core/types';
import { readParkedRecord } from '../recording/failures';
import { putHistoryItem } from '../recording/history-put';
import {
  buildRecord,
  type ChainHead,
  headOf,
  historyImage,
  snapshotChange,
  toHistoryItem,
} from '../recording/history-record';
import { HistoryWriter, readChainHead } from '../recording/history-writer';
import { applyExits, windowExits } from '../recording/retention';
import { type Finding, Verifier } from './verify';

/** Parking codes of records that did not come from the recorded stream (`stream-origin.ts`). */
export const UNTRUSTED_CODES: ReadonlySet<string> = new Set(['record.foreignStream', 'record.outOfWindow']);

export interface RepairAction {
  kind: 'redrive' | 'record-current';
  itemKey?: string;
  failureId?: string;
  /**
   * What happened, or with dryRun what would. `deferred`: history lacks the current
   * state but the stream may still deliver it, so nothing was written.
   * `superseded`: a parked record older than what history holds; it stays parked.
   * `untrusted`: a record writeHistory refused as not from its stream; never re-driven, it stays parked.
   */
  outcome:
    | 'recorded'
    | 'already-recorded'
    | 'still-failing'
    | 'planned'
    | 'deferred'
    | 'superseded'
    | 'untrusted';
  detail: string;
}

export interface RepairReport {
  actions: RepairAction[];
  /** Findings repair cannot fix: tampering with history is reported, never rewritten. */
  unrepairable: Finding[];
}

export interface RepairOptions {
  dryRun?: boolean;
  itemKey?: string;
  /**
   * Record the latest table's state even though the stream has not delivered it:
   * only when the stream's records for the item are known to be lost (the
   * on-failure queue, records older than the stream's 24 hours). Without it,
   * repair never overtakes a lagging stream.
   */
  force?: boolean;
  /** How long to wait for the stream to deliver a missing state before deferring (default 10 s). */
  settleMs?: number;
}

const REPAIRABLE = new Set([
  'latest.mismatch',
  'latest.notRecorded',
  'latest.noHistory',
  'latest.deleteNotRecorded',
]);
/** Parked records are re-driven, not reported as unrepairable. */
const REDRIVEN = new Set(['record.parked']);

const DEFAULT_SETTLE_MS = 10_000;
const POLL_MS = 200;

/** Whether history's head already holds the latest table's state of the item. */
function inSync(
  head: ChainHead | undefined,
  latest: AttributeMap | undefined,
  config: HistoryConfig,
): boolean {
  const current = historyImage(latest, config);
  // No history, or a tombstone: in sync exactly when the item is gone too.
  if (!head || head.op === 'REMOVE') return current === undefined;
  return current !== undefined && canonicalItemJson(current) === canonicalItemJson(head.image ?? {});
}

/**
 * Turns repairable findings into history: re-drives parked records through the
 * stream writer, and records a missing current state from the latest table
 * (`source: repair`). Appends only; never rewrites or deletes a history record.
 *
 * Repair never overtakes the stream: a state history lacks is first given time
 * to arrive through the stream (a lagging or paused mapping delivers it later,
 * in order, with its real source and actor); only with `force` is it recorded
 * as a snapshot, which the stream writer then reconciles with like a backfill
 * snapshot (changes made before it are covered, later ones chain onto it).
 */
export class Repairer {
  private readonly writer: HistoryWriter;
  private readonly now: () => number;

  constructor(
    private readonly options: { client: DynamoDBClient; config: HistoryConfig; clock?: () => Date },
  ) {
    this.writer = new HistoryWriter({ client: options.client, config: options.config });
    if (options.clock) {
      const given = options.clock;
      this.now = () => given().getTime();
    } else {
      const server = new ServerClock().attach(options.client);
      this.now = () => server.lowerBoundMs();
    }
  }

  /** Re-drives every unresolved parked record; one now in history is marked `resolvedAt`. */
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
        const base = { kind: 'redrive' as const, failureId, itemKey: item.itemKey?.S };
        // A record refused as not from the recorded stream is evidence, not a lost change: re-driving it
        // would record exactly what writeHistory refused (a forged event sent straight to the function).
        if (UNTRUSTED_CODES.has(item.errorCode.S ?? '')) {
          actions.push({
            ...base,
            outcome: 'untrusted',
            detail: `parked as ${item.errorCode.S}: not from the recorded stream; never re-driven (see the threat model)`,
          });
          continue;
        }
        if (dryRun) {
          actions.push({ ...base, outcome: 'planned', detail: `re-drive ${item.errorCode.S} record` });
          continue;
        }
        const record = await readParkedRecord(client, config.failuresTableName, failureId);
        let outcome: Awaited<ReturnType<HistoryWriter['redrive']>>;
        try {
          outcome = await this.writer.redrive(record);
        } catch (error) {
          if (!(error instanceof HistoryError)) throw error;
          actions.push({
            ...base,
            outcome: 'still-failing',
            detail: `still ${error.code}: ${error.message}`,
          });
          continue;
        }
        if (outcome === 'superseded') {
          actions.push({
            ...base,
            outcome,
            detail:
              'history already holds later changes of the item: it cannot be placed in order; left parked',
          });
          continue;
        }
        await client.send(
          new UpdateItemCommand({
            TableName: config.failuresTableName,
            Key: { failureId: { S: failureId } },
            UpdateExpression: 'SET resolvedAt = :t',
            ExpressionAttributeValues: { ':t': { S: new Date(this.now()).toISOString() } },
          }),
        );
        actions.push({
          ...base,
          outcome,
          detail: outcome === 'recorded' ? 're-driven' : 'already in history',
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return actions;
  }

  private async latest(itemKey: string): Promise<AttributeMap | undefined> {
    const { client, config } = this.options;
    return (
      await client.send(
        new GetItemCommand({
          TableName: config.latestTableName,
          Key: decodeItemKey(itemKey, config.keySchema),
          ConsistentRead: true,
        }),
      )
    ).Item;
  }

  /** Appends the latest table's current state as a new version where history lacks it. */
  async recordCurrent(itemKey: string, options: Omit<RepairOptions, 'itemKey'> = {}): Promise<RepairAction> {
    const { client, config } = this.options;
    const base = { kind: 'record-current' as const, itemKey };
    let latest = await this.latest(itemKey);
    let head = await readChainHead(client, config.historyTableName, itemKey);
    if (inSync(head, latest, config))
      return { ...base, outcome: 'already-recorded', detail: 'history holds the current state' };
    if (options.dryRun) {
      const planned = buildRecord(snapshotChange('repair', itemKey, latest, head, this.now()), head, config);
      return { ...base, outcome: 'planned', detail: `record ${planned.op} as v${planned.versionNumber}` };
    }
    if (!options.force) {
      // Give the stream its chance: a lagging mapping delivers the missing changes themselves.
      const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
      const deadline = Date.now() + settleMs;
      while (Date.now() < deadline) {
        await sleep(POLL_MS);
        [latest, head] = await Promise.all([
          this.latest(itemKey),
          readChainHead(client, config.historyTableName, itemKey),
        ]);
        if (inSync(head, latest, config))
          return { ...base, outcome: 'already-recorded', detail: 'the stream delivered it' };
      }
      return {
        ...base,
        outcome: 'deferred',
        detail: `history lacks the current state and the stream has not delivered it within ${Math.round(settleMs / 1000)} s: if the stream lags, run repair again later; if its records are lost (on-failure queue, older than 24 h), run repair --force`,
      };
    }
    const step = config.streamTimeResolutionMs;
    const atMs = Math.floor(this.now() / step) * step;
    const record = buildRecord(snapshotChange('repair', itemKey, latest, head, atMs), head, config);
    const outcome = await putHistoryItem(
      client,
      config.historyTableName,
      toHistoryItem(record),
      head === undefined,
    );
    if (!outcome.ok) {
      return { ...base, outcome: 'still-failing', detail: 'history moved while repairing; run repair again' };
    }
    if (config.retention) {
      // The repaired version supersedes the old head: it leaves the window as after any write.
      const repaired = headOf(record);
      await applyExits(
        client,
        config.historyTableName,
        itemKey,
        windowExits(config.retention, repaired, 1, [repaired]),
      );
    }
    return { ...base, outcome: 'recorded', detail: `recorded ${record.op} as v${record.versionNumber}` };
  }

  /** Re-drives parked records, then fixes every repairable finding of `verify`. */
  async repair(options: RepairOptions = {}): Promise<RepairReport> {
    const dryRun = options.dryRun ?? false;
    const actions = options.itemKey ? [] : await this.redriveParked(dryRun);
    const verifier = new Verifier({ client: this.options.client, config: this.options.config });
    const report = options.itemKey ? await verifier.verifyItem(options.itemKey) : await verifier.verifyAll();
    const unrepairable: Finding[] = [];
    const repairable = new Set<string>();
    for (const finding of report.findings) {
      if (REPAIRABLE.has(finding.kind)) repairable.add(finding.itemKey);
      else if (!REDRIVEN.has(finding.kind)) unrepairable.push(finding);
    }
    // In parallel, so items wait out their settle times together; results keep the findings' order.
    actions.push(
      ...(await mapLimit([...repairable], 16, (itemKey) =>
        this.recordCurrent(itemKey, { ...options, dryRun }),
      )),
    );
    return { actions, unrepairable };
  }
}
