import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type HistoryConfig, selectTable } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import { canonicalNumber, decodeItemKey, encodeItemKey } from '../../shared/core/keys';
import type { AttributeMap, HistoryRecord } from '../../shared/core/types';
import { toWireMap } from '../../shared/core/wire';
import { Verifier } from '../../shared/integrity/verify';
import { ActivityReader } from '../../shared/reading/activity';
import { asOfUncertainty, HistoryReader, parseInstant, toView } from '../../shared/reading/audit';
import { blame } from '../../shared/reading/blame';
import { parseAuditRequest } from '../../shared/reading/requests';
import { parseRollbackRequest, RollbackService } from '../../shared/writing/rollback';

/** What the console's API runs with: the same clients, tables and services as the CLI. */
export interface ConsoleContext {
  client: DynamoDBClient;
  configs: HistoryConfig[];
  /** A table's configuration with its rollback label key (the CLI's `session.labelled`). */
  labelled: (config: HistoryConfig) => HistoryConfig;
  cursorSecret?: string | undefined;
  /** Who rollbacks from this console are recorded as (claimed, as from the CLI). */
  actor: string;
}

type Params = Record<string, string | undefined>;

/** An integer parameter; anything but plain digits is a ValidationError naming it. */
function int(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,16}$/.test(value))
    throw new ValidationError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A record for the page: the API's view, plus the image in DynamoDB JSON, so every type shows as it is. */
function recordForPage(record: HistoryRecord, withImage: boolean) {
  // The view without its JSON image (the page shows the typed one), so a timeline page converts no image.
  const { image, ...metadata } = record;
  return { ...toView(metadata), typedImage: withImage && image ? toWireMap(image) : null };
}

/**
 * The console's read and rollback calls, each a thin mapping from query parameters to the
 * shared readers and services (the same ones the Lambdas and the CLI use): no query is
 * implemented twice. Every input is checked by the same schemas as the other transports.
 */
export function consoleApi(ctx: ConsoleContext) {
  const config = (table: string | undefined) => selectTable(ctx.configs, table || undefined);
  const reader = (table: string | undefined) =>
    new HistoryReader({ client: ctx.client, config: config(table), cursorSecret: ctx.cursorSecret });
  const item = (r: HistoryReader, params: Params) => r.checkItemKey(params.item ?? '');

  const get: Record<string, (params: Params) => Promise<unknown>> = {
    tables: async () => ({
      tables: ctx.configs.map((c) => ({
        name: c.latestTableName,
        history: c.historyTableName,
        key: c.keySchema.map((k) => ({ name: k.name, type: k.type })),
        retention: c.retention ?? null,
      })),
    }),

    /** The item key of typed key values: the helper for composite, number and binary keys. */
    key: async (params) => {
      const { keySchema } = config(params.table);
      const key: AttributeMap = {};
      for (const attribute of keySchema) {
        const raw = params[`k.${attribute.name}`];
        if (raw === undefined || raw === '')
          throw new ValidationError(`the key attribute "${attribute.name}" (${attribute.type}) is required`);
        if (attribute.type === 'N') key[attribute.name] = { N: canonicalNumber(raw.trim()) };
        else if (attribute.type === 'B') {
          if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(raw))
            throw new ValidationError(`"${attribute.name}" is binary: give it as base64`);
          key[attribute.name] = { B: new Uint8Array(Buffer.from(raw, 'base64')) };
        } else key[attribute.name] = { S: raw };
      }
      return { itemKey: encodeItemKey(key, keySchema) };
    },

    versions: async (params) => {
      const r = reader(params.table);
      const request = parseAuditRequest('listVersions', {
        itemKey: item(r, params),
        limit: int(params.limit, 'limit') ?? 50,
        order: params.order || 'desc',
        cursor: params.cursor || undefined,
      });
      const page = await r.listHistory(request.itemKey, {
        ...(request.limit !== undefined ? { limit: request.limit } : {}),
        ...(request.order !== undefined ? { order: request.order } : {}),
        ...(request.cursor !== undefined ? { cursor: request.cursor } : {}),
      });
      // The timeline shows metadata; images are fetched one version at a time.
      return {
        itemKey: request.itemKey,
        items: page.items.map((rec) => recordForPage(rec, false)),
        ...(page.cursor ? { cursor: page.cursor } : {}),
      };
    },

    version: async (params) => {
      const r = reader(params.table);
      const request = parseAuditRequest('getVersion', {
        itemKey: item(r, params),
        version: int(params.v, 'v'),
      });
      return recordForPage(await r.getVersion(request.itemKey, request.version), true);
    },

    asOf: async (params) => {
      const r = reader(params.table);
      const request = parseAuditRequest('asOf', { itemKey: item(r, params), at: params.at ?? '' });
      const record = await r.asOf(request.itemKey, request.at);
      const uncertain = asOfUncertainty(record, parseInstant(request.at), r.config.streamTimeResolutionMs);
      return { ...recordForPage(record, true), ...(uncertain ? { uncertain } : {}) };
    },

    diff: async (params) => {
      const r = reader(params.table);
      const request = parseAuditRequest('diff', {
        itemKey: item(r, params),
        from: int(params.from, 'from'),
        to: int(params.to, 'to'),
      });
      return r.diff(request.itemKey, request.from, request.to);
    },

    blame: async (params) => {
      const r = reader(params.table);
      return blame(r, item(r, params));
    },

    verify: async (params) => {
      const r = reader(params.table);
      const { lines: _lines, ...report } = await new Verifier({
        client: ctx.client,
        config: r.config,
      }).verifyItem(item(r, params));
      return report;
    },

    digest: async (params) => {
      const { lines: _lines, ...report } = await new Verifier({
        client: ctx.client,
        config: config(params.table),
      }).verifyAll();
      return report;
    },

    activity: async (params) => {
      const c = config(params.table);
      const request = parseAuditRequest('listActivity', {
        from: params.from ?? '',
        to: params.to ?? '',
        limit: int(params.limit, 'limit') ?? 50,
        order: params.order || 'desc',
        cursor: params.cursor || undefined,
      });
      return new ActivityReader({ client: ctx.client, config: c, cursorSecret: ctx.cursorSecret }).list(
        request.from,
        request.to,
        {
          ...(request.limit !== undefined ? { limit: request.limit } : {}),
          ...(request.order !== undefined ? { order: request.order } : {}),
          ...(request.cursor !== undefined ? { cursor: request.cursor } : {}),
        },
      );
    },
  };

  /** Rollback through the one RollbackService and its version check; a dry run writes nothing. */
  const rollback = async (body: unknown) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw new ValidationError('the rollback request must be a JSON object');
    const { table, item: itemKey, ...rest } = body as Record<string, unknown>;
    if (table !== undefined && typeof table !== 'string') throw new ValidationError('table must be a string');
    const labelled = ctx.labelled(config(table as string | undefined));
    const r = new HistoryReader({ client: ctx.client, config: labelled });
    const checked = r.checkItemKey(itemKey);
    const request = parseRollbackRequest({
      ...rest,
      key: unmarshall(decodeItemKey(checked, labelled.keySchema)),
      actor: ctx.actor,
    });
    return new RollbackService({ client: ctx.client, config: labelled }).rollback(request);
  };

  return { get, rollback };
}
