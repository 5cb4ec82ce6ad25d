import { createDynamoClient } from '../shared/aws/clients';
import { lambdaLogger } from '../shared/aws/lambda-logger';
import { loadCursorSecret } from '../shared/aws/secrets';
import { loadConfigs, loadRuntime, perTable } from '../shared/core/config';
import { ValidationError } from '../shared/core/errors';
import { ActivityReader } from '../shared/reading/activity';
import { HistoryReader, type ListOptions, type Order, toView } from '../shared/reading/audit';
import { type AuditQuery, type AuditRequest, parseAuditRequest } from '../shared/reading/requests';
import { addressParams, type HttpEvent, httpError, intParam, isHttpEvent, json, onlyParams } from './http';

const client = createDynamoClient();
const runtime = loadRuntime();
const configs = loadConfigs();
/** One reader per recorded table answers the routes; `table` picks it (it may be left out with one table). */
const reader = perTable(configs, (config) => new HistoryReader({ client, config }));
/** Only list cursors need the secret, read once per container on first use. */
let cursorSecret: Promise<string> | undefined;
const secretOnce = (): Promise<string> => {
  cursorSecret ??= loadCursorSecret(runtime.cursorSecret);
  const secret = cursorSecret;
  // A failed read of the secret is retried by the next request, not cached.
  secret.catch(() => {
    cursorSecret = undefined;
  });
  return secret;
};
const cursorReader = async (table?: string): Promise<HistoryReader> =>
  new HistoryReader({ client, config: reader(table).config, cursorSecret: await secretOnce() });
const activityReader = async (table?: string): Promise<ActivityReader> =>
  new ActivityReader({ client, config: reader(table).config, cursorSecret: await secretOnce() });
const logger = lambdaLogger('audit', runtime.logLevel);

type Query = AuditQuery;
const check = <Q extends Query>(name: Q, input: unknown): AuditRequest<Q> => parseAuditRequest(name, input);

/** HTTP parameters → the same payload a direct invocation sends. */
function fromHttp(event: HttpEvent, route: Query): Record<string, unknown> {
  const path = event.pathParameters ?? {};
  const query = event.queryStringParameters ?? {};
  const { table, itemKey } = addressParams(event);
  const address = { ...(table !== undefined ? { table } : {}), itemKey };
  switch (route) {
    case 'listVersions':
      onlyParams(query, ['limit', 'cursor', 'order', 'from', 'to']);
      return {
        ...address,
        limit: intParam(query.limit, 'limit'),
        cursor: query.cursor,
        order: query.order,
        from: intParam(query.from, 'from'),
        to: intParam(query.to, 'to'),
      };
    case 'getVersion':
      onlyParams(query, []);
      return { ...address, version: intParam(path.n, 'version') };
    case 'asOf':
      onlyParams(query, ['at']);
      if (query.at === undefined) throw new ValidationError('query parameter "at" is required');
      return { ...address, at: query.at };
    case 'listActivity':
      onlyParams(query, ['from', 'to', 'limit', 'cursor', 'order']);
      return {
        ...(table !== undefined ? { table } : {}),
        from: query.from,
        to: query.to,
        limit: intParam(query.limit, 'limit'),
        cursor: query.cursor,
        order: query.order,
      };
    case 'diff':
      onlyParams(query, ['from', 'to']);
      return {
        ...address,
        from: intParam(query.from, 'from'),
        to: intParam(query.to, 'to'),
      };
  }
}

/**
 * One Lambda per audit query. Each answers its HTTP route (API Gateway proxy
 * event: JSON, 400/404/409 with `{code, message}`) or a direct invocation
 * (the same fields as a JSON payload; errors thrown with their class as errorType).
 */
function route<Q extends Query>(name: Q, run: (input: AuditRequest<Q>) => Promise<unknown>) {
  return async (event: unknown, context?: unknown): Promise<unknown> => {
    logger.withContext(context);
    if (!isHttpEvent(event)) return run(check(name, event));
    try {
      return json(200, await run(check(name, fromHttp(event, name))));
    } catch (error) {
      return httpError(error, logger);
    }
  };
}

export const listVersions = route('listVersions', async (input) => {
  const options: ListOptions = { order: (input.order ?? 'asc') as Order };
  if (input.limit !== undefined) options.limit = input.limit;
  if (input.cursor !== undefined) options.cursor = input.cursor;
  if (input.from !== undefined) options.from = input.from;
  if (input.to !== undefined) options.to = input.to;
  const page = await (await cursorReader(input.table)).listHistory(input.itemKey, options);
  return {
    ...(input.table !== undefined ? { table: input.table } : {}),
    itemKey: input.itemKey,
    items: page.items.map(toView),
    ...(page.cursor ? { cursor: page.cursor } : {}),
  };
});

export const getVersion = route('getVersion', async (input) =>
  toView(await reader(input.table).getVersion(input.itemKey, input.version)),
);

export const asOf = route('asOf', async (input) => reader(input.table).asOfAnswer(input.itemKey, input.at));

export const diff = route('diff', async (input) =>
  reader(input.table).diff(input.itemKey, input.from, input.to),
);

/** Every item's changes in a time window (README, "Table-wide activity"). */
export const listActivity = route('listActivity', async (input) => {
  const page = await (await activityReader(input.table)).list(input.from, input.to, {
    ...(input.limit !== undefined ? { limit: input.limit } : {}),
    ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
    ...(input.order !== undefined ? { order: input.order } : {}),
  });
  return { ...(input.table !== undefined ? { table: input.table } : {}), ...page };
});
