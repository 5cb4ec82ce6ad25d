import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import type { HistoryRecord } from '../../shared/core/types';
import {
  checkDigest,
  type DigestSigner,
  generateDigestKey,
  KeyFileSigner,
  parseDigest,
  publicKeyCheck,
  type SignedDigest,
  serializeDigest,
  signDigest,
} from '../../shared/integrity/digest';
import { DirectoryDigestStore, digestName } from '../../shared/integrity/digest-store';
import { Verifier } from '../../shared/integrity/verify';
import { itemHash } from '../../shared/recording/chain-hash';
import { toHistoryItem } from '../../shared/recording/history-record';
import type { VersionedTable } from '../../shared/writing/versioned-table';
import { cliEnv, runCli } from '../helpers/cli';
import { readHistory, testClient, testEndpoint, waitForHistory } from '../helpers/dynamo';
import { type Pipeline, recordedTables } from '../helpers/pipeline';

// Signed digests (README, "Signed digests"): a rewrite of history that recomputes every
// stored hash passes verify, and is caught by a digest signed before it.
const client = testClient();
let tables: TableSet;
let config: HistoryConfig;
let pipeline: Pipeline;
let orders: VersionedTable;
const keys = generateDigestKey();
const signer = new KeyFileSigner(keys.privateKeyPem);
const check = publicKeyCheck(keys.publicKeyPem);
const dir = mkdtempSync(join(tmpdir(), 'dh-digests-'));

beforeAll(async () => {
  ({ tables, config, orders, pipeline } = await recordedTables(client));
  for (const id of ['d-1', 'd-2', 'd-3']) {
    await orders.create({ id, total: 10 });
    await orders.update({ id }, 1, { total: 20 });
    await orders.update({ id }, 2, { total: 30 });
  }
  for (const id of ['d-1', 'd-2', 'd-3']) await waitForHistory(client, tables.history, id, 3);
});
afterAll(async () => {
  await pipeline.stop();
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const verifier = () => new Verifier({ client, config });
const publish = async (by: DigestSigner = signer): Promise<SignedDigest> =>
  signDigest(await verifier().verifyAll(), config, by, new Date());
const checkIt = (digest: SignedDigest) => checkDigest(digest, { client, config, verifySignature: check });

/** The attack verify alone cannot see: edit a record, then recompute its hash and every later one. */
async function reseal(itemKey: string, version: number, edit: (r: HistoryRecord) => HistoryRecord) {
  const records = await readHistory(client, tables.history, itemKey);
  let link: string | undefined;
  for (const original of records) {
    if (original.versionNumber < version) continue;
    const r = original.versionNumber === version ? edit(original) : original;
    const item = toHistoryItem({ ...r, prevHash: link ?? r.prevHash, hash: 'x' });
    item.hash = { S: itemHash(item) };
    link = item.hash.S;
    await client.send(new PutItemCommand({ TableName: tables.history, Item: item }));
  }
}

describe('signed digests', () => {
  let before: SignedDigest;

  it('publishes a digest of every chain head and checks it against intact history', async () => {
    before = await publish();
    expect(before.body.heads).toHaveLength(3);
    const result = await checkIt(before);
    expect(result).toMatchObject({ checked: 3, expired: 0, findings: [] });
  });

  it('stores digests write-once and read-only, and reads them back exactly', async () => {
    const store = new DirectoryDigestStore(dir);
    const name = digestName(new Date('2026-12-01T00:00:00Z'));
    const path = await store.put(name, serializeDigest(before));
    expect(statSync(path).mode & 0o777).toBe(0o444);
    await expect(store.put(name, serializeDigest(before))).rejects.toThrow(/EEXIST/);
    expect(await store.latest()).toBe(name);
    expect(parseDigest(await store.get(name))).toEqual(before);
  });

  it('does not count changes made after the digest: they are not covered yet', async () => {
    await orders.update({ id: 'd-3' }, 3, { total: 40 });
    await waitForHistory(client, tables.history, 'd-3', 4);
    expect((await checkIt(before)).findings).toEqual([]);
  });

  it('catches a re-sealed rewrite that verify alone reports as intact', async () => {
    await reseal('d-1', 2, (r) => ({ ...r, image: { ...r.image, total: { N: '2000' } } }));
    // Every stored hash agrees with its content again: verify has nothing to say…
    const report = await verifier().verifyAll();
    expect(report.findings.filter((f) => f.itemKey === 'd-1')).toEqual([]);
    // …but the heads signed before the rewrite no longer recompute.
    const result = await checkIt(before);
    expect(result.findings).toEqual([
      expect.objectContaining({ kind: 'digest.changed', itemKey: 'd-1', version: 3 }),
    ]);
  });

  it('names a signed head that was deleted', async () => {
    await client.send(
      new DeleteItemCommand({
        TableName: tables.history,
        Key: { itemKey: { S: 'd-2' }, version: { S: 'v0003' } },
      }),
    );
    const kinds = (await checkIt(before)).findings.map((f) => [f.kind, f.itemKey]);
    expect(kinds).toContainEqual(['digest.missing', 'd-2']);
  });

  it('refuses a digest whose content was edited after signing, or that another key signed', async () => {
    const edited: SignedDigest = structuredClone(before);
    edited.body.heads[0] = edited.body.heads[0]?.replace(/\t\d+\t/, '\t1\t') ?? '';
    expect((await checkIt(edited)).findings.map((f) => f.kind)).toEqual(['digest.signature']);
    const forged = await publish(new KeyFileSigner(generateDigestKey().privateKeyPem));
    expect((await checkIt(forged)).findings.map((f) => f.kind)).toEqual(['digest.signature']);
  });
});

describe('a digest signed the way KMS signs, checked by the CLI with the DER key `aws kms get-public-key` gives', () => {
  it('passes the check, and fails it for another key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // What KmsDigestSigner asks of KMS: ECDSA_SHA_256 over the 32-byte digest hash (MessageType RAW), DER.
    const kmsLike: DigestSigner = {
      keyId: 'arn:aws:kms:eu-west-1:123456789012:key/example',
      algorithm: 'ECDSA_SHA_256',
      sign: async (sha256) => new Uint8Array(sign('sha256', sha256, { key: privateKey, dsaEncoding: 'der' })),
    };
    const store = join(dir, 'kms');
    const signed = await signDigest(await verifier().verifyAll(), config, kmsLike, new Date());
    await new DirectoryDigestStore(store).put(
      digestName(new Date('2026-12-01T12:00:00Z')),
      serializeDigest(signed),
    );
    const der = join(dir, 'kms.der');
    writeFileSync(der, publicKey.export({ type: 'spki', format: 'der' }));
    const env = cliEnv(tables, testEndpoint());
    const ok = await runCli(['digest', 'check', '--public-key', der, '--store', store], env);
    expect(ok.stdout).toMatch(/chain head\(s\) checked, 0 expired, 0 finding\(s\)/);
    expect(ok.code).toBe(0);
    const other = join(dir, 'other.der');
    writeFileSync(
      other,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
    );
    const refused = await runCli(['digest', 'check', '--public-key', other, '--store', store], env);
    expect(refused.stdout).toContain('digest.signature');
    expect(refused.code).toBe(1);
  }, 60_000);
});

describe('publicKeyCheck', () => {
  it('checks ECDSA P-256 signatures as KMS makes them (ECDSA_SHA_256 over the digest hash, DER)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const message = new Uint8Array(32).fill(7);
    const signature = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const checkKms = publicKeyCheck(new Uint8Array(der));
    expect(checkKms(message, signature, 'ECDSA_SHA_256')).toBe(true);
    expect(checkKms(new Uint8Array(32).fill(8), signature, 'ECDSA_SHA_256')).toBe(false);
    expect(checkKms(message, signature, 'ed25519')).toBe(false);
  });
});
