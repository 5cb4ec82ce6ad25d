import { ValidationError } from '../core/errors';
import { type Infer, number, object, oneOf, optional, SchemaError, string } from '../core/schema';

/**
 * The audit queries' inputs, checked in one place: the Lambda handlers (payloads and HTTP
 * parameters), the CLI (its arguments become the same payload) and `HistoryReader` (its list
 * options) all use these schemas, so a value is refused the same way, with the same message,
 * wherever it comes from. The item key's fit to a table's key schema is the reader's to check:
 * only it knows the table.
 */

export const MAX_LIMIT = 1000;
const version = number({ integer: true, min: 1 });
const itemKey = string({ min: 1, max: 2048 });
/** The recorded table; needed only when the deployment records several. */
const table = optional(string({ min: 1, max: 255 }));

const listOptions = {
  limit: optional(number({ integer: true, min: 1, max: MAX_LIMIT })),
  cursor: optional(string({ max: 2048 })),
  order: optional(oneOf(['asc', 'desc'] as const)),
  from: optional(version),
  to: optional(version),
};

const schemas = {
  listVersions: object({ table, itemKey, ...listOptions }, { strict: true }),
  getVersion: object({ table, itemKey, version }, { strict: true }),
  asOf: object({ table, itemKey, at: string({ max: 64 }) }, { strict: true }),
  diff: object({ table, itemKey, from: version, to: version }, { strict: true }),
  listActivity: object(
    {
      table,
      from: string({ max: 64 }),
      to: string({ max: 64 }),
      limit: listOptions.limit,
      cursor: listOptions.cursor,
      order: listOptions.order,
    },
    { strict: true },
  ),
  listOptions: object(listOptions, { strict: true }),
};

export type AuditQuery = Exclude<keyof typeof schemas, 'listOptions'>;
export type AuditRequest<Q extends keyof typeof schemas> = Infer<(typeof schemas)[Q]>;

/**
 * Checks one audit request (or, for `listOptions`, the options of a list).
 * @throws ValidationError naming the field
 */
export function parseAuditRequest<Q extends keyof typeof schemas>(query: Q, input: unknown): AuditRequest<Q> {
  let request: AuditRequest<Q>;
  try {
    request = schemas[query](input, query === 'listOptions' ? 'options' : 'payload') as AuditRequest<Q>;
  } catch (error) {
    if (error instanceof SchemaError)
      throw new ValidationError(
        `invalid ${query} request: ${error.message}`,
        { path: error.path },
        { cause: error },
      );
    throw error;
  }
  const range = request as { from?: number; to?: number };
  if (
    (query === 'listVersions' || query === 'listOptions') &&
    range.from !== undefined &&
    range.to !== undefined &&
    range.from > range.to
  )
    throw new ValidationError(`from (${range.from}) is after to (${range.to})`);
  return request;
}
