import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { createDynamoClient } from '../shared/aws/clients';
import { lambdaLogger } from '../shared/aws/lambda-logger';
import { emfLine } from '../shared/aws/metrics';
import { type HistoryConfig, loadConfigs, loadRuntime } from '../shared/core/config';
import { ConfigurationError } from '../shared/core/errors';
import { type DigestSigner, KeyFileSigner, serializeDigest, signDigest } from '../shared/integrity/digest';
import { KmsDigestSigner, S3DigestStore } from '../shared/integrity/digest-aws';
import { type DigestStore, DirectoryDigestStore, digestName } from '../shared/integrity/digest-store';
import { Verifier } from '../shared/integrity/verify';

/**
 * Where digests are signed and kept: in AWS a KMS signing key and an S3 bucket
 * with Object Lock (DIGEST_KMS_KEY_ID, DIGEST_BUCKET); locally a key file and a
 * folder (DIGEST_KEY_FILE, DIGEST_DIR), which `npm start` makes.
 */
function fromEnv(env: NodeJS.ProcessEnv): {
  signer: DigestSigner;
  /** The store of one table's digests: `under` is its folder, when the deployment records several. */
  store: (under?: string) => DigestStore;
} {
  const keyId = env.DIGEST_KMS_KEY_ID?.trim();
  const bucket = env.DIGEST_BUCKET?.trim();
  if (keyId && bucket) {
    const s3 = new S3Client({});
    return {
      signer: new KmsDigestSigner(new KMSClient({}), keyId),
      store: (under) => new S3DigestStore(s3, bucket, under ? `digests/${under}/` : 'digests/'),
    };
  }
  const keyFile = env.DIGEST_KEY_FILE?.trim();
  const dir = env.DIGEST_DIR?.trim();
  if (keyFile && dir)
    return {
      signer: new KeyFileSigner(readFileSync(keyFile, 'utf8')),
      store: (under) => new DirectoryDigestStore(under ? join(dir, under) : dir),
    };
  throw new ConfigurationError(
    'publishDigest needs DIGEST_KMS_KEY_ID and DIGEST_BUCKET (or, locally, DIGEST_KEY_FILE and DIGEST_DIR)',
  );
}

const configs = loadConfigs();
const client = createDynamoClient();
const { signer, store } = fromEnv(process.env);
const runtime = loadRuntime();
const logger = lambdaLogger('publishDigest', runtime.logLevel);
const dimensions = { Service: runtime.service, Stage: runtime.stage };

interface Published {
  table: string;
  stored: string;
  digest: string;
  items: number;
  records: number;
  findings: number;
}

async function publish(config: HistoryConfig): Promise<Published> {
  const report = await new Verifier({ client, config }).verifyAll();
  const takenAt = new Date();
  const signed = await signDigest(report, config, signer, takenAt);
  // With several recorded tables, each keeps its digests in its own folder.
  const folder = configs.length > 1 ? config.latestTableName : undefined;
  const stored = await store(folder).put(digestName(takenAt), serializeDigest(signed));
  const result = {
    table: config.latestTableName,
    stored,
    digest: report.digest,
    items: report.items,
    records: report.records,
    findings: report.findings.length,
  };
  // Findings do not stop the digest (it records history as it is); they are logged for the alarm.
  if (report.findings.length > 0)
    logger.error('verify found findings while publishing the digest', {
      ...result,
      kinds: [...new Set(report.findings.map((f) => f.kind))],
    });
  else logger.info('digest published', result);
  return result;
}

/**
 * Scheduled (README, "Signed digests"): for each recorded table, verify every chain, sign
 * the heads and store the digest write-once. With one table it answers that table's figures.
 */
export const handler = async (
  _event?: unknown,
  context?: unknown,
): Promise<Published | { tables: Published[] }> => {
  logger.withContext(context);
  const results: Published[] = [];
  for (const config of configs) results.push(await publish(config));
  const findings = results.reduce((sum, r) => sum + r.findings, 0);
  process.stdout.write(`${emfLine(dimensions, { DigestFindings: findings })}\n`);
  return results.length === 1 ? (results[0] as Published) : { tables: results };
};
