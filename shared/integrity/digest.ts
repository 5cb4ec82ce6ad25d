import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HistoryConfig } from '../core/config';
import { ValidationError } from '../core/errors';
import { digestLine, digestOf, readItemChain, type VerifyReport } from './verify';

/**
 * Signed digests (README, "Signed digests"). A digest names every item's chain
 * head as verify recomputed it: the head version, the hash rolled from content
 * along the chain, any stored-hash disagreement, and the chain marker's hash.
 * Signed with a key history's writers cannot use and kept where they cannot
 * rewrite it, it lets a later check prove that no record up to those heads was
 * changed, even by someone who recomputed every stored hash.
 */

export const DIGEST_FORMAT = 'dynamo-history-digest/1';

export interface DigestBody {
  format: typeof DIGEST_FORMAT;
  historyTable: string;
  latestTable: string;
  takenAt: string;
  items: number;
  records: number;
  /** verify's table digest at `takenAt`. */
  digest: string;
  /** verify's digest lines, sorted: `itemKey \t headVersion \t rolledHash \t taint \t markerHash`. */
  heads: string[];
}

/** A digest as stored: its body's exact bytes and a signature over their SHA-256. */
export interface SignedDigest {
  body: DigestBody;
  signature: { algorithm: string; keyId: string; value: string };
}

/** Signs the SHA-256 of a digest's bytes: an Ed25519 key file locally, KMS `Sign` in AWS. */
export interface DigestSigner {
  readonly keyId: string;
  readonly algorithm: string;
  sign(sha256: Uint8Array): Promise<Uint8Array>;
}

/** Checks a signature with the signer's public key; needs no access to the signer. */
export type SignatureCheck = (sha256: Uint8Array, signature: Uint8Array, algorithm: string) => boolean;

const bodyBytes = (body: DigestBody): Uint8Array => new TextEncoder().encode(JSON.stringify(body));
const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(bytes).digest());

/** The signed digest of a verify run (every item: `verifyAll`). */
export async function signDigest(
  report: VerifyReport,
  config: HistoryConfig,
  signer: DigestSigner,
  takenAt: Date,
): Promise<SignedDigest> {
  const body: DigestBody = {
    format: DIGEST_FORMAT,
    historyTable: config.historyTableName,
    latestTable: config.latestTableName,
    takenAt: takenAt.toISOString(),
    items: report.items,
    records: report.records,
    digest: report.digest,
    heads: report.lines,
  };
  const value = await signer.sign(sha256(bodyBytes(body)));
  return {
    body,
    signature: {
      algorithm: signer.algorithm,
      keyId: signer.keyId,
      value: Buffer.from(value).toString('base64'),
    },
  };
}

/** The stored form: the body first, so its bytes are exactly what was signed. */
export const serializeDigest = (digest: SignedDigest): string =>
  `${JSON.stringify({ body: digest.body, signature: digest.signature })}\n`;

/**
 * Reads a stored digest, checking its shape.
 * @throws ValidationError
 */
export function parseDigest(text: string): SignedDigest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError('the digest file is not JSON');
  }
  const d = parsed as Partial<SignedDigest> | null;
  const body = d?.body;
  const sig = d?.signature;
  if (
    !body ||
    body.format !== DIGEST_FORMAT ||
    typeof body.historyTable !== 'string' ||
    typeof body.takenAt !== 'string' ||
    typeof body.digest !== 'string' ||
    !Array.isArray(body.heads) ||
    !body.heads.every((h) => typeof h === 'string') ||
    typeof sig?.value !== 'string' ||
    typeof sig.algorithm !== 'string' ||
    typeof sig.keyId !== 'string'
  )
    throw new ValidationError(`not a ${DIGEST_FORMAT} digest`);
  return { body: body as DigestBody, signature: sig };
}

export type DigestFindingKind = 'digest.signature' | 'digest.table' | 'digest.changed' | 'digest.missing';

export interface DigestFinding {
  kind: DigestFindingKind;
  itemKey?: string;
  version?: number;
  message: string;
}

export interface DigestCheck {
  takenAt: string;
  /** Chain heads the digest names that were checked against today's history. */
  checked: number;
  /** Heads whose version retention has since deleted: nothing left to compare. */
  expired: number;
  findings: DigestFinding[];
}

/**
 * Checks a stored digest against today's history: its signature, then, for each
 * item it names, that today's chain up to that head recomputes to the same
 * values. A record changed, re-hashed or removed since (other than expired by a
 * recorded retention policy) is a finding; records added since are not covered.
 */
export async function checkDigest(
  digest: SignedDigest,
  options: { client: DynamoDBClient; config: HistoryConfig; verifySignature: SignatureCheck },
): Promise<DigestCheck> {
  const { body, signature } = digest;
  const findings: DigestFinding[] = [];
  const result = (checked: number, expired: number): DigestCheck => ({
    takenAt: body.takenAt,
    checked,
    expired,
    findings,
  });
  const signed = options.verifySignature(
    sha256(bodyBytes(body)),
    Buffer.from(signature.value, 'base64'),
    signature.algorithm,
  );
  if (!signed) {
    findings.push({
      kind: 'digest.signature',
      message: 'the signature does not match the digest: it was altered or signed by another key',
    });
    return result(0, 0);
  }
  if (digestOf(body.heads) !== body.digest) {
    findings.push({ kind: 'digest.signature', message: 'the digest value does not match its own heads' });
    return result(0, 0);
  }
  if (body.historyTable !== options.config.historyTableName)
    findings.push({
      kind: 'digest.table',
      message: `the digest is of ${body.historyTable}, not ${options.config.historyTableName}`,
    });
  let checked = 0;
  let expired = 0;
  for (const line of body.heads) {
    const [itemKey = '', head = '0'] = line.split('\t');
    if (head === '?') continue; // a record verify could not read when the digest was taken
    const version = Number(head);
    const chain = await readItemChain(options.client, options.config.historyTableName, itemKey);
    const upTo = chain.records.filter((r) => r.versionNumber <= version);
    const oldest = chain.records[0];
    if (version > 0 && !upTo.some((r) => r.versionNumber === version)) {
      // Retention deletes only the oldest versions, and only under a policy the records carry in their hashes.
      if (oldest?.retention && oldest.versionNumber > version) {
        expired++;
        continue;
      }
      findings.push({
        kind: 'digest.missing',
        itemKey,
        version,
        message: `v${version}, the head the digest of ${body.takenAt} signed, is gone from history`,
      });
      continue;
    }
    checked++;
    if (digestLine(itemKey, upTo, chain.marker) !== line)
      findings.push({
        kind: 'digest.changed',
        itemKey,
        version,
        message: `history up to v${version} differs from what the digest of ${body.takenAt} signed: a record was changed or re-hashed`,
      });
  }
  return result(checked, expired);
}

/** An Ed25519 key file (PKCS #8 PEM): the local stack's digest signer. */
export class KeyFileSigner implements DigestSigner {
  readonly algorithm = 'ed25519';
  private readonly key: KeyObject;
  constructor(
    pem: string,
    readonly keyId = 'local-ed25519',
  ) {
    this.key = createPrivateKey(pem);
    if (this.key.asymmetricKeyType !== 'ed25519')
      throw new ValidationError('the digest key file is not an Ed25519 private key');
  }
  async sign(digestSha256: Uint8Array): Promise<Uint8Array> {
    return new Uint8Array(sign(null, digestSha256, this.key));
  }
  /** The public key (SPKI PEM) that checks this signer's digests. */
  publicKeyPem(): string {
    return createPublicKey(this.key).export({ type: 'spki', format: 'pem' }).toString();
  }
}

/** A new Ed25519 key pair, as PEM. */
export function generateDigestKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * Checks signatures with a public key (SPKI PEM or DER): Ed25519 for key files,
 * ECDSA P-256 over SHA-256 for KMS (`ECDSA_SHA_256`, message type RAW).
 */
export function publicKeyCheck(publicKey: string | Uint8Array): SignatureCheck {
  let key: KeyObject;
  try {
    key =
      typeof publicKey === 'string'
        ? createPublicKey(publicKey)
        : createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new ValidationError('not a public key (SPKI, as PEM or DER)', {}, { cause });
  }
  return (digestSha256, signature, algorithm) => {
    try {
      if (algorithm === 'ed25519' && key.asymmetricKeyType === 'ed25519')
        return verify(null, digestSha256, key, signature);
      // KMS Sign (ECDSA_SHA_256, MessageType RAW) over the 32-byte digest hash: ECDSA over its SHA-256, DER-encoded.
      if (algorithm === 'ECDSA_SHA_256' && key.asymmetricKeyType === 'ec')
        return verify('sha256', digestSha256, { key, dsaEncoding: 'der' }, signature);
      return false;
    } catch {
      return false;
    }
  };
}
