import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RuntimeSettings } from '../core/config';
import { ConfigurationError } from '../core/errors';

/** The shortest cursor secret accepted, in characters. */
export const MIN_CURSOR_SECRET_LENGTH = 32;

/**
 * The HMAC key of list cursors, for a deployed audit function: the Secrets
 * Manager secret the template generates (`CURSOR_SECRET_ARN`), or, locally,
 * `CURSOR_SECRET` (both as `loadRuntime` read them). Never a value derived from public names.
 * @throws ConfigurationError
 */
export async function loadCursorSecret(
  source: RuntimeSettings['cursorSecret'],
  client?: SecretsManagerClient,
): Promise<string> {
  const { arn } = source;
  let secret = source.value;
  if (arn) {
    // Loaded only where a deployment reads its secret: local runs never pay for the module.
    const sm = require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
    const out = await (client ?? new sm.SecretsManagerClient({})).send(
      new sm.GetSecretValueCommand({ SecretId: arn }),
    );
    secret = out.SecretString;
  }
  if (!secret || secret.length < MIN_CURSOR_SECRET_LENGTH)
    throw new ConfigurationError(
      arn
        ? `the cursor secret ${arn} holds fewer than ${MIN_CURSOR_SECRET_LENGTH} characters`
        : `set CURSOR_SECRET_ARN (a Secrets Manager secret) or CURSOR_SECRET (at least ${MIN_CURSOR_SECRET_LENGTH} random characters)`,
    );
  return secret;
}
