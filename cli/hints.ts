import type { HistoryConfig } from '../shared/core/config';
import { ValidationError } from '../shared/core/errors';

/**
 * What a first-time user gets wrong, answered with what to fix: the raw SDK
 * errors name no table, no variable and no port.
 */

/** The region as the SDKs take it (`AWS_REGION`), or as the AWS CLI does (`AWS_DEFAULT_REGION`). */
export function regionOf(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;
}

/**
 * Checks the endpoint variable before any request: the SDK reads one without a
 * scheme as a hostname and fails later with `UnknownError`.
 * @throws ValidationError
 */
export function checkEndpoint(env: NodeJS.ProcessEnv): void {
  for (const variable of ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL']) {
    const value = env[variable]?.trim();
    if (!value) continue;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
      throw new ValidationError(
        `${variable} must be a URL with its scheme, such as http://localhost:8000; got ${JSON.stringify(value)}`,
      );
  }
}

const endpointOf = (env: NodeJS.ProcessEnv): string =>
  env.AWS_ENDPOINT_URL_DYNAMODB?.trim() ||
  env.AWS_ENDPOINT_URL?.trim() ||
  `DynamoDB in ${regionOf(env) ?? '(no region)'}`;

/** A clearer message for an SDK or network error, or undefined when there is nothing to add. */
export function explain(
  error: unknown,
  config: HistoryConfig | undefined,
  env: NodeJS.ProcessEnv,
): string | undefined {
  const e = error as { name?: string; code?: string; message?: string; cause?: { code?: string } } | null;
  const message = e?.message ?? '';
  const code = e?.code ?? e?.cause?.code ?? '';
  const endpoint = endpointOf(env);
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message))
    return `cannot reach ${endpoint}: nothing is listening there. Is the stack running (npm start)? Check AWS_ENDPOINT_URL_DYNAMODB.`;
  if (code === 'ENOTFOUND' || /ENOTFOUND|getaddrinfo/.test(message))
    return `cannot resolve the host of ${endpoint}: check AWS_ENDPOINT_URL_DYNAMODB.`;
  if (/Region is missing/i.test(message))
    return 'no AWS region: set AWS_REGION (the AWS CLI reads AWS_DEFAULT_REGION; either works here).';
  if (e?.name === 'ResourceNotFoundException' && config)
    return `a table does not exist at ${endpoint}: this CLI reads ${config.latestTableName} (LATEST_TABLE_NAME), ${config.historyTableName} (HISTORY_TABLE_NAME) and ${config.failuresTableName} (FAILURES_TABLE_NAME); set them, or STAGE, to your deployment's tables.`;
  if (
    e?.name === 'ValidationException' &&
    /conditions on the keys|key element does not match|schema/i.test(message) &&
    config
  )
    return `the table's key is not KEY_ATTRIBUTES=${config.keySchema.map((k) => `${k.name}:${k.type}`).join(',')}: set KEY_ATTRIBUTES to the latest table's key (DynamoDB said: ${message.split('\n')[0]})`;
  return undefined;
}
