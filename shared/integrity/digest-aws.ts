import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DigestSigner } from './digest';
import type { DigestStore } from './digest-store';

/**
 * Signs digests with a KMS asymmetric key (key spec ECC_NIST_P256, usage SIGN_VERIFY):
 * ECDSA_SHA_256 over the 32-byte SHA-256 of the digest (MessageType RAW). The private
 * key never leaves KMS; anyone with the public key (`publicKey()`) can check.
 */
export class KmsDigestSigner implements DigestSigner {
  readonly algorithm = 'ECDSA_SHA_256';
  constructor(
    private readonly client: KMSClient,
    readonly keyId: string,
  ) {}

  async sign(sha256: Uint8Array): Promise<Uint8Array> {
    const out = await this.client.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: sha256,
        MessageType: 'RAW',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    if (!out.Signature) throw new Error(`KMS returned no signature for ${this.keyId}`);
    return out.Signature;
  }

  /** The key's public half (DER SPKI), for `digest check --public-key`. */
  async publicKey(): Promise<Uint8Array> {
    const out = await this.client.send(new GetPublicKeyCommand({ KeyId: this.keyId }));
    if (!out.PublicKey) throw new Error(`KMS returned no public key for ${this.keyId}`);
    return out.PublicKey;
  }
}

/**
 * Digests in an S3 bucket created with Object Lock (compliance mode, a default
 * retention): once written, no one, not even the account's root user, can
 * overwrite or delete a digest version until its retention ends. `IfNoneMatch: *`
 * refuses to write over an existing name.
 */
export class S3DigestStore implements DigestStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix = 'digests/',
  ) {}

  async put(name: string, text: string): Promise<string> {
    const Key = `${this.prefix}${name}`;
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key,
        Body: text,
        ContentType: 'application/json',
        ChecksumAlgorithm: 'SHA256',
        IfNoneMatch: '*',
      }),
    );
    return `s3://${this.bucket}/${Key}`;
  }

  async get(name: string): Promise<string> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: `${this.prefix}${name}` }),
    );
    return (await out.Body?.transformToString('utf8')) ?? '';
  }

  async latest(): Promise<string | undefined> {
    let newest: string | undefined;
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) {
        const name = o.Key?.slice(this.prefix.length);
        if (name && (newest === undefined || name > newest)) newest = name;
      }
      token = out.NextContinuationToken;
    } while (token);
    return newest;
  }
}
