import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateDigestKey } from '../shared/integrity/digest';

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

/** The local stack's digest signing key (Ed25519, made once) and digest folder, beside DynamoDB Local's files. */
export const LOCAL_DIGEST_KEY_FILE = resolve(__dirname, '..', '.dynamodb', 'digest-key.pem');
export const LOCAL_DIGEST_DIR = resolve(__dirname, '..', '.dynamodb', 'digests');

export function localDigestKey(file = LOCAL_DIGEST_KEY_FILE): { keyFile: string; publicKeyFile: string } {
  if (!existsSync(file)) {
    mkdirSync(join(file, '..'), { recursive: true });
    const pair = generateDigestKey();
    writeFileSync(file, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${file}.pub`, pair.publicKeyPem, { mode: 0o644, flag: 'wx' });
  }
  return { keyFile: file, publicKeyFile: `${file}.pub` };
}
