import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../core/errors';

/** The shortest cursor secret accepted, in characters. */
export const MIN_CURSOR_SECRET_LENGTH = 32;

/**
 * The HMAC key of list cursors, for a deployed audit function: the Secrets
 * Manager secret the template generates (`CURSOR_SECRET_ARN`), or, locally,
 * `CURSOR_SECRET`. Never a value derived from public names.
 * @throws ConfigurationError
 */
export async function cursorSecretFromEnv(
  env: NodeJS.ProcessEnv,
  client: () => SecretsManagerClient = () => new SecretsManagerClient({}),
): Promise<string> {
  const arn = env.CURSOR_SECRET_ARN?.trim();
  const secret = arn
    ? (await client().send(new GetSecretValueCommand({ SecretId: arn }))).SecretString
    : env.CURSOR_SECRET?.trim();
  if (!secret || secret.length < MIN_CURSOR_SECRET_LENGTH)
    throw new ConfigurationError(
      arn
        ? `the cursor secret ${arn} holds fewer than ${MIN_CURSOR_SECRET_LENGTH} characters`
        : `set CURSOR_SECRET_ARN (a Secrets Manager secret) or CURSOR_SECRET (at least ${MIN_CURSOR_SECRET_LENGTH} random characters)`,
    );
  return secret;
}
