import { readFileSync } from 'node:fs';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { createDynamoClient } from '../shared/aws/clients';
import { emfLine } from '../shared/aws/metrics';
import { loadConfig } from '../shared/core/config';
import { ConfigurationError } from '../shared/core/errors';
import { createLogger } from '../shared/core/logger';
import { type DigestSigner, KeyFileSigner, serializeDigest, signDigest } from '../shared/integrity/digest';
import { KmsDigestSigner, S3DigestStore } from '../shared/integrity/digest-aws';
import { type DigestStore, DirectoryDigestStore, digestName } from '../shared/integrity/digest-store';
import { Verifier } from '../shared/integrity/verify';

/**
 * Where digests are signed and kept: in AWS a KMS signing key and an S3 bucket
 * with Object Lock (DIGEST_KMS_KEY_ID, DIGEST_BUCKET); locally a key file and a
 * folder (DIGEST_KEY_FILE, DIGEST_DIR), which `npm start` makes.
 */
function fromEnv(env: NodeJS.ProcessEnv): { signer: DigestSigner; store: DigestStore } {
  const keyId = env.DIGEST_KMS_KEY_ID?.trim();
  const bucket = env.DIGEST_BUCKET?.trim();
  if (keyId && bucket)
    return {
      signer: new KmsDigestSigner(new KMSClient({}), keyId),
      store: new S3DigestStore(new S3Client({}), bucket),
    };
  const keyFile = env.DIGEST_KEY_FILE?.trim();
  const dir = env.DIGEST_DIR?.trim();
  if (keyFile && dir)
    return { signer: new KeyFileSigner(readFileSync(keyFile, 'utf8')), store: new DirectoryDigestStore(dir) };
  throw new ConfigurationError(
    'publishDigest needs DIGEST_KMS_KEY_ID and DIGEST_BUCKET (or, locally, DIGEST_KEY_FILE and DIGEST_DIR)',
  );
}

const config = loadConfig();
const client = createDynamoClient();
const { signer, store } = fromEnv(process.env);
const logger = createLogger('publishDigest');
const dimensions = { Service: process.env.SERVICE ?? 'dynamo-history', Stage: process.env.STAGE ?? 'dev' };

/** Scheduled (README, "Signed digests"): verify every chain, sign the heads, store the digest write-once. */
export const handler = async (): Promise<{
  stored: string;
  digest: string;
  items: number;
  records: number;
  findings: number;
}> => {
  const report = await new Verifier({ client, config }).verifyAll();
  const takenAt = new Date();
  const signed = await signDigest(report, config, signer, takenAt);
  const stored = await store.put(digestName(takenAt), serializeDigest(signed));
  const result = {
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
  process.stdout.write(`${emfLine(dimensions, { DigestFindings: report.findings.length })}\n`);
  return result;
};
