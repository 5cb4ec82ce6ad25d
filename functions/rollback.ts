import { unmarshall } from '@aws-sdk/util-dynamodb';
import { createDynamoClient } from '../shared/aws/clients';
import { requireLabelKey } from '../shared/aws/kms';
import { lambdaLogger } from '../shared/aws/lambda-logger';
import { loadConfigs, loadRuntime, perTable } from '../shared/core/config';
import { UnauthenticatedError, ValidationError } from '../shared/core/errors';
import { decodeItemKey } from '../shared/core/keys';
import {
  MAX_PAYLOAD_BYTES,
  parseRollbackRequest,
  type RollbackRequest,
  type RollbackResult,
  RollbackService,
} from '../shared/writing/rollback';
import { addressParams, type HttpEvent, httpError, isHttpEvent, json, onlyParams } from './http';

const client = createDynamoClient();
/** One rollback service per recorded table; the request's `table` picks it (optional with one table). */
const service = perTable(
  loadConfigs().map((config) => requireLabelKey(config, process.env)),
  (config) => new RollbackService({ client, config }),
);
const logger = lambdaLogger('rollback', loadRuntime().logLevel);

async function run(request: RollbackRequest, caller?: string): Promise<RollbackResult> {
  try {
    const result = await service(request.table).rollback(request, caller !== undefined ? { caller } : {});
    logger.info('rollback', {
      key: result.key,
      restoredVersion: result.restoredVersion,
      newVersion: result.newVersion,
      dryRun: result.dryRun,
      ...(caller !== undefined ? { caller } : {}),
    });
    return result;
  } catch (error) {
    logger.warn('rollback refused', {
      table: request.table,
      key: request.key,
      toVersion: request.toVersion,
      error,
    });
    throw error;
  }
}

/**
 * Invocation contract (README, "Rollback"). Errors are thrown: Lambda reports
 * them with `errorType` = the class name (ValidationError, VersionNotFoundError,
 * ItemNotFoundError, VersionConflictError), and nothing has been written. The
 * actor is the invoker's claim (`actorSource: claimed`).
 */
export const handler = async (event: unknown, context?: unknown): Promise<RollbackResult> => {
  logger.withContext(context);
  return run(parseRollbackRequest(event));
};

/**
 * `POST [/tables/{table}]/items/{itemKey}/rollback` (IAM auth). The body is the invocation payload
 * without `key` (the path names the item) and without `actor`: the actor is the
 * IAM principal API Gateway authenticated (`actorSource: caller`).
 */
export const http = async (event: unknown, context?: unknown) => {
  logger.withContext(context);
  try {
    if (!isHttpEvent(event)) throw new ValidationError('not an API Gateway request');
    const request = rollbackFromHttp(event);
    const caller = event.requestContext?.identity?.userArn;
    if (typeof caller !== 'string' || caller.length === 0)
      throw new UnauthenticatedError(
        'rollback over HTTP needs an IAM-signed request; none was authenticated',
      );
    return json(200, await run(request, caller));
  } catch (error) {
    return httpError(error, logger);
  }
};

function rollbackFromHttp(event: HttpEvent): RollbackRequest {
  onlyParams(event.queryStringParameters ?? {}, []);
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES)
    throw new ValidationError(`request body is over ${MAX_PAYLOAD_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text || 'null');
  } catch {
    throw new ValidationError('request body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ValidationError('request body must be a JSON object');
  for (const field of ['key', 'actor'])
    if (Object.hasOwn(body, field))
      throw new ValidationError(
        field === 'key'
          ? 'the item is named by the path, not by "key" in the body'
          : 'over HTTP the actor is the authenticated caller; "actor" is not accepted',
      );
  if (Object.hasOwn(body, 'table'))
    throw new ValidationError(
      'the table is named by the path (/tables/{table}/items/…), not by "table" in the body',
    );
  const { table, itemKey = '' } = addressParams(event);
  const { config } = service(table);
  const key = unmarshall(decodeItemKey(itemKey, config.keySchema), { wrapNumbers: true });
  return parseRollbackRequest({ ...body, key, ...(table !== undefined ? { table } : {}) });
}
