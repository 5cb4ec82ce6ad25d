import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Where the local stack keeps its rollback-label secret: beside DynamoDB Local's
 * files, readable by this user only. The CLI reads it from here too, so a local
 * `dynamo-history rollback` seals labels writeHistory accepts.
 */
export const LOCAL_LABEL_SECRET_FILE = resolve(__dirname, '..', '.dynamodb', 'label-secret');

/** The local stack's label secret: LABEL_SECRET when set, else the file's, made once (32 random bytes). */
export function localLabelSecret(env: NodeJS.ProcessEnv, file = LOCAL_LABEL_SECRET_FILE): string {
  const given = env.LABEL_SECRET?.trim();
  if (given) return given;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(join(file, '..'), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}
