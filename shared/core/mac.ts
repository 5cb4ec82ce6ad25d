import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from './errors';

/**
 * A key that authenticates messages (HMAC-SHA-256). In AWS it is a KMS HMAC key
 * (`shared/aws/kms.ts`): the rollback role may only generate MACs and writeHistory
 * may only verify them, so neither a plain writer nor writeHistory itself can mint
 * one. Locally it is a secret held by the local stack.
 */
export interface MacKey {
  /** Names the key in what it authenticates (a KMS key ARN, or `local`). */
  readonly keyId: string;
  mac(message: Uint8Array): Promise<Uint8Array>;
  /** False for any MAC the key did not make over exactly this message. */
  verify(message: Uint8Array, mac: Uint8Array): Promise<boolean>;
}

/** The smallest secret accepted: 256 bits, the HMAC-SHA-256 block strength. */
export const MIN_SECRET_BYTES = 32;

/** A MAC key held in memory (the local stack, tests). */
export class HmacKey implements MacKey {
  constructor(
    private readonly secret: Uint8Array,
    readonly keyId = 'local',
  ) {
    if (secret.length < MIN_SECRET_BYTES)
      throw new ConfigurationError(
        `a MAC secret needs at least ${MIN_SECRET_BYTES} bytes, got ${secret.length}`,
      );
  }

  async mac(message: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(createHmac('sha256', this.secret).update(message).digest());
  }

  async verify(message: Uint8Array, mac: Uint8Array): Promise<boolean> {
    const expected = await this.mac(message);
    return mac.length === expected.length && timingSafeEqual(expected, mac);
  }
}

/**
 * A secret from configuration: 64 hex digits or more, or base64 of 32 bytes or more.
 * @throws ConfigurationError
 */
export function parseSecret(value: string, variable: string): Uint8Array {
  const text = value.trim();
  const bytes = /^(?:[0-9a-fA-F]{2})+$/.test(text)
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)
      ? Buffer.from(text, 'base64')
      : undefined;
  if (!bytes || bytes.length < MIN_SECRET_BYTES)
    throw new ConfigurationError(
      `${variable} must be at least ${MIN_SECRET_BYTES} random bytes, as hex or base64 (for example: openssl rand -hex 32)`,
    );
  return new Uint8Array(bytes);
}
