import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { LambdaStreamEvent } from '../../local/event-source-mapping';
import { canonicalItemJson } from '../../shared/core/canonical';
import type { HistoryConfig } from '../../shared/core/config';
import { TTL_PRINCIPAL } from '../../shared/core/constants';
import { HistoryError } from '../../shared/core/errors';
import type { AttributeMap, HistoryRecord } from '../../shared/core/types';
import { fromWireMap } from '../../shared/core/wire';
import { backfill } from '../../shared/integrity/backfill';
import { Repairer } from '../../shared/integrity/repair';
import { Verifier } from '../../shared/integrity/verify';
import { RollbackService } from '../../shared/writing/rollback';
import { VersionedTable } from '../../shared/writing/versioned-table';
import {
  createTestTables,
  eventually,
  readHistory,
  readPartition,
  setStream,
  testClient,
} from '../helpers/dynamo';
import { injectFault, injectStatementFaults } from '../helpers/faults';
import { type Pipeline, startPipeline } from '../helpers/pipeline';
import { type BackfillMoment, CONTEXT, expectedHistory, random, sameImage, type TrueChange } from './model';

/**
 * One seeded run of the simulation on the real stack: DynamoDB Local, its real
 * stream, the project's event source mapping and the real writer. A seed fixes
 * every operation and the fault rates, so a failure replays from its seed; how
 * the stream's timing interleaves with a backfill can still differ between runs,
 * and the model accepts exactly the legal outcomes of that race.
 */
export interface SimulationResult {
  seed: number;
  operations: string[];
  problems: string[];
  tampered: number;
  records: number;
  /** How many records of each source the run checked, and what it exercised. */
  coverage: Record<string, number>;
}

const ITEMS = ['a', 'b', 'c', 'p']; // `p` exists before the table has a stream
const STEPS = 24;

export async function runSeed(seed: number): Promise<SimulationResult> {
  const rng = random(seed);
  const client = testClient();
  const writerClient = testClient();
  const { tables, config } = await createTestTables(client);
  const operations: string[] = [];
  const problems: string[] = [];
  const changes = new Map<string, TrueChange[]>(ITEMS.map((id) => [id, []]));
  const backfills = new Map<string, BackfillMoment[]>(ITEMS.map((id) => [id, []]));
  const ttlDeletes = new Set<string>();
  // Half the runs give the writer library the history table, so re-creations continue the numbering.
  // (Drawn from its own stream of numbers, so the seeds' operations stay as they were.)
  const continueNumbering = random(seed * 31 + 7).next() < 0.5;
  const orders = new VersionedTable({
    client,
    tableName: tables.latest,
    keySchema: config.keySchema,
    attributes: config.attributes,
    ...(continueNumbering ? { historyTableName: tables.history } : {}),
  });

  const current = async (id: string): Promise<AttributeMap | undefined> =>
    (
      await client.send(
        new GetItemCommand({ TableName: tables.latest, Key: { id: { S: id } }, ConsistentRead: true }),
      )
    ).Item;
  /** Records what a write really did: the item before and after, read back. */
  const track = async (id: string, before: AttributeMap | undefined, extra: Partial<TrueChange> = {}) => {
    const after = await current(id);
    if (before === undefined && after === undefined) return; // nothing happened
    changes.get(id)?.push({
      kind: after === undefined ? 'delete' : 'write',
      after,
      before,
      preStream: false,
      ttl: false,
      ...extra,
    });
  };

  // Faults for the whole run: throttled history writes (a partially failed batch, retried from the
  // failed record) and invocations that fail after recording (the whole batch redelivered).
  const throttle = rng.next() < 0.5 ? 0.15 : 0;
  const crashAfter = rng.next() < 0.5 ? 0.15 : 0;
  const faults = random(seed * 7919 + 1);
  injectFault(
    writerClient,
    (command) =>
      (command === 'PutItemCommand' ||
        command === 'TransactWriteItemsCommand' ||
        command === 'BatchExecuteStatementCommand') &&
      faults.next() < throttle,
  );
  // Half the runs also fail single statements of backfill's grouped chain starts: refused before
  // they ran, or their answers lost after they wrote. (Their own stream of numbers: the seeds'
  // operations stay as they were.)
  const statementChance = random(seed * 104_729 + 3);
  const backfillClient = testClient();
  const statementFaults = injectStatementFaults(
    backfillClient,
    () => statementChance.next(),
    statementChance.next() < 0.5 ? { refused: 0.25, lost: 0.25 } : { refused: 0, lost: 0 },
  );
  const delivered = new Set<string>();
  let redeliveries = 0;
  const around = async (event: LambdaStreamEvent, record: (e: LambdaStreamEvent) => Promise<unknown>) => {
    for (const r of event.Records) {
      if (delivered.has(r.eventID)) redeliveries++;
      delivered.add(r.eventID);
    }
    // A TTL-style delete: the stream record says the TTL service removed the item.
    for (const r of event.Records) {
      const old = r.dynamodb.OldImage;
      if (r.eventName === 'REMOVE' && old && ttlDeletes.has(canonicalItemJson(fromWireMap(old)))) {
        r.userIdentity = { type: 'Service', principalId: TTL_PRINCIPAL };
      }
    }
    const result = await record(event);
    if (faults.next() < crashAfter) throw new Error('injected: the function failed after recording');
    return result;
  };

  /** A backfill, with the state of every item it could read, for the model. */
  const runBackfill = async (segments: number) => {
    operations.push('backfill');
    const states = await Promise.all(ITEMS.map(async (item) => [item, await current(item)] as const));
    await backfill(backfillClient, config, { segments });
    for (const [item, state] of states) {
      const list = changes.get(item) ?? [];
      if (state) backfills.get(item)?.push({ afterChange: list.length - 1, state });
    }
  };

  let pipeline: Pipeline | undefined;
  const resume = async () => {
    const checkpoint = pipeline?.checkpoint;
    await pipeline?.stop();
    pipeline = await startPipeline(client, config, {
      writerClient,
      around,
      retryBaseDelayMs: 5,
      ...(checkpoint ? { checkpoint } : {}),
    });
  };
  const pause = async () => {
    const was = pipeline;
    if (!was) return;
    await was.stop();
    pipeline = { ...was, stop: async () => {} };
  };
  let running = false;

  try {
    // An item that predates the stream: only a backfill can start its history.
    await setStream(client, tables.latest, false);
    await client.send(
      new PutItemCommand({
        TableName: tables.latest,
        Item: { id: { S: 'p' }, version: { N: String(1 + rng.int(3)) }, v: { N: String(rng.int(1000)) } },
      }),
    );
    changes
      .get('p')
      ?.push({ kind: 'write', before: undefined, after: await current('p'), preStream: true, ttl: false });
    await setStream(client, tables.latest, true);
    await resume();
    running = true;

    for (let step = 0; step < STEPS; step++) {
      const id = rng.pick(ITEMS);
      const before = await current(id);
      const version = before?.version?.N;
      const own = version === undefined ? 0 : Number(version);
      const whole = Number.isSafeInteger(own) && own >= 0;
      const roll = rng.next();
      const value = { N: String(rng.int(1_000_000)) };
      try {
        if (roll < 0.14) {
          if (before) {
            operations.push(`${id}: plain update`);
            await client.send(
              new UpdateItemCommand({
                TableName: tables.latest,
                Key: { id: { S: id } },
                UpdateExpression: 'SET v = :v',
                ExpressionAttributeValues: { ':v': value },
              }),
            );
          } else {
            operations.push(`${id}: library create`);
            await orders.create({ id, v: Number(value.N) });
          }
          await track(id, before);
        } else if (roll < 0.34) {
          if (before && whole) {
            operations.push(`${id}: library update at ${own}`);
            await orders.update({ id }, own, { v: Number(value.N) });
          } else if (!before) {
            operations.push(`${id}: library create`);
            await orders.create({ id, v: Number(value.N) });
          } else continue;
          await track(id, before);
        } else if (roll < 0.5) {
          // A plain put with a version of its own choosing: next, a skip ahead, backwards, none or odd.
          const choice = rng.int(5);
          const next = [own + 1, own + 2 + rng.int(4), Math.max(1, own - 1), undefined, 'x'][choice];
          operations.push(`${id}: plain put version ${String(next)}`);
          const item: AttributeMap = { id: { S: id }, v: value };
          if (typeof next === 'number') item.version = { N: String(next) };
          else if (next === 'x') item.version = { S: 'x' };
          await client.send(new PutItemCommand({ TableName: tables.latest, Item: item }));
          await track(id, before);
        } else if (roll < 0.6) {
          if (!before) continue;
          const ttl = rng.next() < 0.35;
          operations.push(
            `${id}: ${ttl ? 'TTL-style delete' : whole && own > 0 ? 'library remove' : 'plain delete'}`,
          );
          if (ttl) ttlDeletes.add(canonicalItemJson(before));
          if (!ttl && whole && own > 0) await orders.remove({ id }, own);
          else await client.send(new DeleteItemCommand({ TableName: tables.latest, Key: { id: { S: id } } }));
          await track(id, before, { ttl });
        } else if (roll < 0.72) {
          const history = await readHistory(client, tables.history, id);
          if (history.length === 0) continue;
          const target = rng.pick(history).versionNumber;
          operations.push(`${id}: rollback to v${target}`);
          try {
            const result = await new RollbackService({ client, config }).rollback({
              key: { id },
              toVersion: target,
              reason: `seed ${seed}`,
            });
            await track(id, before, {
              rollback: { version: result.newVersion, restoredFrom: target, reason: `seed ${seed}` },
            });
          } catch (error) {
            // A refused rollback writes nothing: check that.
            if (!(error instanceof HistoryError)) throw error;
            const after = await current(id);
            if (!sameImage(after, before)) problems.push(`a refused rollback of ${id} changed the item`);
          }
        } else if (roll < 0.82) {
          if (running) {
            operations.push('pause the mapping');
            await pause();
          } else {
            operations.push('resume the mapping');
            await resume();
          }
          running = !running;
        } else if (roll < 0.92) {
          await runBackfill(1 + rng.int(2));
        } else {
          operations.push(`${id}: repair (without --force)`);
          const before = await readHistory(client, tables.history, id);
          await new Repairer({ client, config }).repair({ itemKey: id, settleMs: 150 });
          const after = await readHistory(client, tables.history, id);
          if (after.some((r) => r.source === 'repair'))
            problems.push(
              `repair without --force wrote history for ${id} (${before.length} → ${after.length})`,
            );
        }
      } catch (error) {
        if (error instanceof HistoryError) {
          operations.push(`  (refused: ${error.code})`);
          continue;
        }
        throw error;
      }
    }

    if (!running) await resume();
    // Adoption ends with a backfill, as an operator's would: an item no one wrote since it predates
    // the stream has history from here on (verify says `latest.noHistory` until then).
    await runBackfill(1);
    // Caught up: every item's newest record holds its current state, and stays so.
    const verifier = new Verifier({ client, config });
    await eventually(
      async () => {
        const report = await verifier.verifyAll({ segments: 2 });
        return report.findings.some((f) => f.kind.startsWith('latest.')) ? undefined : true;
      },
      30_000,
      `history to catch up (seed ${seed})`,
    ).catch((error: unknown) => problems.push(String(error)));
    await new Promise((r) => setTimeout(r, 200));
    await pipeline?.stop();

    // 1. Every change exactly once, in order, with the right op, image and source.
    let records = 0;
    const coverage: Record<string, number> = {
      pauses: operations.filter((o) => o === 'pause the mapping').length,
      throttled: throttle > 0 ? 1 : 0,
      redelivered: crashAfter > 0 ? 1 : 0,
      recordsRedelivered: redeliveries,
      statementsRefused: statementFaults.refused(),
      statementAnswersLost: statementFaults.lost(),
    };
    for (const id of ITEMS) {
      const actual = await readHistory(client, tables.history, id);
      records += actual.length;
      for (const r of actual) coverage[r.source] = (coverage[r.source] ?? 0) + 1;
      const first = actual[0];
      const startedBy =
        first?.source === 'backfill'
          ? { source: 'backfill' as const, image: first.image }
          : { source: 'stream' as const };
      const expected = expectedHistory(changes.get(id) ?? [], backfills.get(id) ?? [], startedBy);
      if (typeof expected === 'string') {
        problems.push(`${id}: ${expected}`);
        continue;
      }
      const shape = (r: HistoryRecord) => ({
        versionNumber: r.versionNumber,
        op: r.op,
        source: r.source,
        image: r.image && canonicalItemJson(r.image),
        ...(r.restoredFrom !== undefined ? { restoredFrom: r.restoredFrom } : {}),
      });
      const want = expected.map((e) => ({
        versionNumber: e.versionNumber,
        op: e.op,
        source: e.source,
        image: e.image && canonicalItemJson(e.image),
        ...(e.restoredFrom !== undefined ? { restoredFrom: e.restoredFrom } : {}),
      }));
      const got = actual.map(shape);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        problems.push(
          `${id}: history differs from the model\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`,
        );
      }
      if (actual.some((r) => r.image && Object.hasOwn(r.image, CONTEXT)))
        problems.push(`${id}: an image kept the rollback context`);
    }

    // 2. verify: no false alarm on a legitimate history, and a digest that stays put.
    const clean = await verifier.verifyAll({ segments: 2 });
    if (clean.findings.length > 0) problems.push(`false alarm(s): ${JSON.stringify(clean.findings)}`);
    const again = await verifier.verifyAll({ segments: 1 });
    if (again.digest !== clean.digest) problems.push('the digest changed while history did not');

    // 3. Tampering: verify names exactly the items edited, the digest moves, and comes back.
    const tampered = await tamper(client, config, rng);
    const after = await verifier.verifyAll({ segments: 2 });
    const named = new Set(after.findings.map((f) => f.itemKey));
    const edited = new Set(tampered.map((t) => t.itemKey));
    if ([...edited].some((k) => !named.has(k)))
      problems.push(`missed tampering: ${JSON.stringify(tampered)} → ${JSON.stringify(after.findings)}`);
    if ([...named].some((k) => !edited.has(k)))
      problems.push(`false alarm beside tampering: ${JSON.stringify(after.findings)}`);
    if (tampered.length > 0 && after.digest === clean.digest)
      problems.push('the digest did not change after tampering');
    for (const t of tampered)
      await client.send(new PutItemCommand({ TableName: tables.history, Item: t.original }));
    const restored = await verifier.verifyAll({ segments: 2 });
    if (restored.findings.length > 0 || restored.digest !== clean.digest)
      problems.push('restoring the edited records did not restore a clean verify and the same digest');
    return { seed, operations, problems, tampered: tampered.length, records, coverage };
  } finally {
    await pipeline?.stop();
    client.destroy();
    writerClient.destroy();
    backfillClient.destroy();
  }
}

/** Edits 0–2 random stored records or markers with a plain client, as an operator with table access could. */
async function tamper(
  client: DynamoDBClient,
  config: HistoryConfig,
  rng: ReturnType<typeof random>,
): Promise<{ itemKey: string; what: string; original: AttributeMap }[]> {
  const done: { itemKey: string; what: string; original: AttributeMap }[] = [];
  const count = rng.int(3);
  const used = new Set<string>();
  for (let i = 0; i < count; i++) {
    const itemKey = rng.pick(ITEMS);
    if (used.has(itemKey)) continue;
    const items = await readPartition(client, config.historyTableName, itemKey);
    if (items.length === 0) continue;
    const original = rng.pick(items);
    const names = Object.keys(original).filter(
      (n) => n !== 'itemKey' && n !== 'version' && n !== 'expiresAt',
    );
    const name = rng.pick(names);
    const value = original[name];
    const forged: AttributeMap = { ...original };
    if (value?.S !== undefined) forged[name] = { S: `${value.S}~` };
    else if (value?.N !== undefined) forged[name] = { N: String(Number(value.N) + 1) };
    else if (value?.M !== undefined) forged[name] = { M: { ...value.M, forged: { BOOL: true } } };
    else if (value?.L !== undefined) forged[name] = { L: [...value.L, { S: 'forged' }] };
    else delete forged[name];
    await client.send(new PutItemCommand({ TableName: config.historyTableName, Item: forged }));
    used.add(itemKey);
    done.push({ itemKey, what: `${original.version?.S}.${name}`, original });
  }
  return done;
}
