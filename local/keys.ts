import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateDigestKey } from '../shared/integrity/digest';

/**
 * Where the local stack keeps its rollback-label secret: beside DynamoDB Local's
 * files, readable by this user only. The CLI reads it from here too, so a local
 * `dynamo-history rollback` seals labels writeHistory accepts.
 */
export const LOCAL_LABEL_SECRET_FILE = resolve(__dirname, '..', '.dynamodb', 'label-secret');

/** Where the local stack keeps its list-cursor secret (AWS: a generated Secrets Manager secret). */
export const LOCAL_CURSOR_SECRET_FILE = resolve(__dirname, '..', '.dynamodb', 'cursor-secret');

/** The local stack's label secret: LABEL_SECRET when set, else the file's, made once (32 random bytes). */
export const localLabelSecret = (env: NodeJS.ProcessEnv): string =>
  env.LABEL_SECRET?.trim() || localSecret(LOCAL_LABEL_SECRET_FILE);

/** The local stack's cursor secret: CURSOR_SECRET when set, else the file's, made once. */
export const localCursorSecret = (env: NodeJS.ProcessEnv): string =>
  env.CURSOR_SECRET?.trim() || localSecret(LOCAL_CURSOR_SECRET_FILE);

/** A secret kept in a file readable by this user only, made once (32 random bytes, hex). */
export function localSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(join(file, '..'), { recursive: true });
  const secret = randomBytes(32).toString('hex');
  if (!createOnce(file, `${secret}\n`, 0o600)) return readFileSync(file, 'utf8').trim();
  return secret;
}

/** Creates a file unless it exists; false when another process made it first (two stacks starting at once). */
function createOnce(file: string, text: string, mode: number): boolean {
  try {
    writeFileSync(file, text, { mode, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  chmodSync(file, mode);
  return true;
}

/** The local stack's digest signing key (Ed25519, made once) and digest folder, beside DynamoDB Local's files. */
export const LOCAL_DIGEST_KEY_FILE = resolve(__dirname, '..', '.dynamodb', 'digest-key.pem');
export const LOCAL_DIGEST_DIR = resolve(__dirname, '..', '.dynamodb', 'digests');

export function localDigestKey(file = LOCAL_DIGEST_KEY_FILE): { keyFile: string; publicKeyFile: string } {
  if (!existsSync(file)) {
    mkdirSync(join(file, '..'), { recursive: true });
    const pair = generateDigestKey();
    // The public half first: whoever makes the private key file has already written its public key.
    const pub = `${file}.pub`;
    if (
      createOnce(`${pub}.tmp-${process.pid}`, pair.publicKeyPem, 0o644) &&
      createOnce(file, pair.privateKeyPem, 0o600)
    )
      renameSync(`${pub}.tmp-${process.pid}`, pub);
    else rmSync(`${pub}.tmp-${process.pid}`, { force: true });
  }
  return { keyFile: file, publicKeyFile: `${file}.pub` };
}
