import { createDynamoClient } from '../shared/aws/clients';
import { cursorSecretFromEnv } from '../shared/aws/secrets';
import { loadConfig } from '../shared/core/config';
import { ValidationError } from '../shared/core/errors';
import { createLogger } from '../shared/core/logger';
import { type Infer, number, object, oneOf, optional, SchemaError, string } from '../shared/core/schema';
import { HistoryReader, type ListOptions, type Order, toView } from '../shared/reading/audit';
import { type HttpEvent, httpError, intParam, isHttpEvent, itemKeyParam, json, onlyParams } from './http';

const client = createDynamoClient();
const config = loadConfig();
/** Readers answer the routes; only list cursors need the secret, read once per container on first use. */
const reader = new HistoryReader({ client, config });
let listReader: Promise<HistoryReader> | undefined;
const cursorReader = (): Promise<HistoryReader> => {
  listReader ??= cursorSecretFromEnv(process.env).then(
    (cursorSecret) => new HistoryReader({ client, config, cursorSecret }),
  );
  // A failed read of the secret is retried by the next request, not cached.
  listReader.catch(() => {
    listReader = undefined;
  });
  return listReader;
};
const logger = createLogger('audit');

const version = number({ integer: true, min: 1 });
const itemKey = string({ min: 1, max: 2048 });
const schemas = {
  listVersions: object(
    {
      itemKey,
      limit: optional(number({ integer: true, min: 1, max: 1000 })),
      cursor: optional(string({ max: 2048 })),
      order: optional(oneOf(['asc', 'desc'] as const)),
      from: optional(version),
      to: optional(version),
    },
    { strict: true },
  ),
  getVersion: object({ itemKey, version }, { strict: true }),
  asOf: object({ itemKey, at: string({ max: 64 }) }, { strict: true }),
  diff: object({ itemKey, from: version, to: version }, { strict: true }),
};

function check<S extends keyof typeof schemas>(name: S, input: unknown): Infer<(typeof schemas)[S]> {
  try {
    return schemas[name](input, 'payload') as Infer<(typeof schemas)[S]>;
  } catch (error) {
    if (error instanceof SchemaError)
      throw new ValidationError(
        `invalid ${name} request: ${error.message}`,
        { path: error.path },
        { cause: error },
      );
    throw error;
  }
}

/** HTTP parameters → the same payload a direct invocation sends. */
function fromHttp(event: HttpEvent, route: keyof typeof schemas): Record<string, unknown> {
  const path = event.pathParameters ?? {};
  const query = event.queryStringParameters ?? {};
  switch (route) {
    case 'listVersions':
      onlyParams(query, ['limit', 'cursor', 'order', 'from', 'to']);
      return {
        itemKey: itemKeyParam(event),
        limit: intParam(query.limit, 'limit'),
        cursor: query.cursor,
        order: query.order,
        from: intParam(query.from, 'from'),
        to: intParam(query.to, 'to'),
      };
    case 'getVersion':
      onlyParams(query, []);
      return { itemKey: itemKeyParam(event), version: intParam(path.n, 'version') };
    case 'asOf':
      onlyParams(query, ['at']);
      if (query.at === undefined) throw new ValidationError('query parameter "at" is required');
      return { itemKey: itemKeyParam(event), at: query.at };
    case 'diff':
      onlyParams(query, ['from', 'to']);
      return {
        itemKey: itemKeyParam(event),
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
function route<S extends keyof typeof schemas>(
  name: S,
  run: (input: Infer<(typeof schemas)[S]>) => Promise<unknown>,
) {
  return async (event: unknown): Promise<unknown> => {
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
  const page = await (await cursorReader()).listHistory(input.itemKey, options);
  return {
    itemKey: input.itemKey,
    items: page.items.map(toView),
    ...(page.cursor ? { cursor: page.cursor } : {}),
  };
});

export const getVersion = route('getVersion', async (input) =>
  toView(await reader.getVersion(input.itemKey, input.version)),
);

export const asOf = route('asOf', async (input) => reader.asOfAnswer(input.itemKey, input.at));

export const diff = route('diff', async (input) => reader.diff(input.itemKey, input.from, input.to));
