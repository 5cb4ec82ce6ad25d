import type { APIGatewayProxyResult } from 'aws-lambda';
import { HistoryError, httpStatusOf, ValidationError } from '../shared/core/errors';
import type { Logger } from '../shared/core/logger';

/** An API Gateway (REST) proxy event, as far as the audit routes read it. */
export interface HttpEvent {
  httpMethod: string;
  /** The request path as the client sent it, percent-encoding kept (API Gateway REST; serverless-offline too). */
  path?: string | null;
  pathParameters?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  /** API Gateway's request context: with IAM auth, `identity.userArn` is the signing principal. */
  requestContext?: { identity?: { userArn?: string | null } | null } | null;
}

export function isHttpEvent(event: unknown): event is HttpEvent {
  return (
    event !== null &&
    typeof event === 'object' &&
    typeof (event as { httpMethod?: unknown }).httpMethod === 'string'
  );
}

export const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Maps the error hierarchy to HTTP: 400/404/409 with `{code, message}`; anything else is a 500 that reveals nothing. */
export function httpError(error: unknown, logger: Logger): APIGatewayProxyResult {
  if (error instanceof HistoryError && httpStatusOf(error) < 500)
    return json(httpStatusOf(error), { code: error.code, message: error.message });
  logger.error('request failed', { error });
  return json(500, { code: 'internal', message: 'internal error' });
}

/** `[/tables/{table}]/activity`, anchored at the end. */
const ACTIVITY_ROUTE = /(?:^|\/)(?:tables\/([^/]+)\/)?activity\/?$/;

/** The audit and rollback routes, with or without `/tables/{table}` in front, anchored at the end (a base path may precede). */
const ROUTE =
  /(?:^|\/)(?:tables\/([^/]+)\/)?items\/([^/]+)\/(?:versions(?:\/[^/]+)?|as-of|diff|rollback)\/?$/;

function decodeOnce(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ValidationError(
      `the ${what} in the path is not valid percent-encoding: ${JSON.stringify(raw.slice(0, 200))}`,
    );
  }
}

/**
 * The `{table}` and `{itemKey}` of `[/tables/{table}]/items/{itemKey}/…`, each percent-decoded
 * exactly once. They are read from the raw path, because gateways disagree on path
 * parameters: API Gateway REST hands them over still percent-encoded, serverless-offline
 * decoded. The raw path is the same in both, so a key holding `/`, `%` or `|` means the
 * same item everywhere. A hand-made event without a path falls back to `pathParameters`,
 * taken as decoded. `table` is undefined on the routes without `/tables/{table}`.
 * @throws ValidationError
 */
export function addressParams(event: HttpEvent): { table?: string; itemKey?: string } {
  const activity = typeof event.path === 'string' ? ACTIVITY_ROUTE.exec(event.path) : null;
  if (activity) return activity[1] !== undefined ? { table: decodeOnce(activity[1], 'table name') } : {};
  const match = typeof event.path === 'string' ? ROUTE.exec(event.path) : null;
  if (!match) {
    const { table, itemKey } = event.pathParameters ?? {};
    return { ...(table !== undefined ? { table } : {}), ...(itemKey !== undefined ? { itemKey } : {}) };
  }
  const [, table, itemKey] = match;
  return {
    ...(table !== undefined ? { table: decodeOnce(table, 'table name') } : {}),
    itemKey: decodeOnce(itemKey as string, 'item key'),
  };
}

/** The `{itemKey}` of the path (see {@link addressParams}). @throws ValidationError */
export function itemKeyParam(event: HttpEvent): string | undefined {
  return addressParams(event).itemKey;
}

/** A numeric query or path parameter; anything but plain decimal digits is a ValidationError. */
export function intParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,16}$/.test(value))
    throw new ValidationError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Rejects query parameters the route does not know, so a typo is an error rather than silently ignored. */
export function onlyParams(params: Record<string, string | undefined>, allowed: readonly string[]): void {
  const unknown = Object.keys(params).filter((k) => !allowed.includes(k));
  if (unknown.length > 0)
    throw new ValidationError(
      `unknown query parameter(s): ${unknown.join(', ')}; allowed: ${allowed.join(', ') || 'none'}`,
    );
}
