// @ts-check
// Keys that make history's labels and digests provable (README, "Threat model").
// - LabelKey (KMS HMAC_256): the rollback roles may only GenerateMac, writeHistory may only
//   VerifyMac, so no plain writer, and not writeHistory itself, can mint a rollback label.
// The key policy names the roles directly (the roles' own policies do not mention the key:
// naming it there as well would make the key and the roles depend on each other).

// - DigestSigningKey (KMS ECC_NIST_P256): only publishDigest may Sign; anyone in the account
//   may read the public key and Verify, so a digest can be checked without trusting this stack.
// - DigestBucket (S3 Object Lock, compliance mode): a stored digest cannot be overwritten or
//   deleted by anyone, the account's root user included, until its retention ends.

/** Functions that seal rollback labels, and the one that checks them. */
const LABEL_SIGNERS = ['rollback', 'rollbackHttp'];
const LABEL_VERIFIERS = ['writeHistory'];

/** @param {string} fn */
const roleArn = (fn) => ({ 'Fn::GetAtt': [`${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`, 'Arn'] });

/** Key administration for the account, without the right to use the key. */
const ADMIN_ACTIONS = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
];

/** @param {string} sid @param {string[]} actions @param {unknown} principal */
const keyStatement = (sid, actions, principal) => ({
  Sid: sid,
  Effect: 'Allow',
  Principal: { AWS: principal },
  Action: actions,
  Resource: '*',
});
// biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder.
const ACCOUNT = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' };

/**
 * @param {{ service?: string, stage?: string, digestRetentionDays?: number }} [options]
 */
function securityResources({ service = 'dynamo-history', stage = 'dev', digestRetentionDays = 365 } = {}) {
  return {
    // The HMAC key of audit list cursors: generated, never derived from names, read by listVersions only.
    CursorSecret: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Description: `${service}-${stage}: signs audit list cursors`,
        GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
      },
    },
    DigestSigningKey: {
      Type: 'AWS::KMS::Key',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        Description: `${service}-${stage}: signs history digests (publishDigest only)`,
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            keyStatement('AccountAdministersTheKey', ADMIN_ACTIONS, ACCOUNT),
            keyStatement('AnyoneInTheAccountChecks', ['kms:GetPublicKey', 'kms:Verify'], ACCOUNT),
            keyStatement('PublishDigestSigns', ['kms:Sign'], [roleArn('publishDigest')]),
          ],
        },
      },
    },
    DigestBucket: {
      Type: 'AWS::S3::Bucket',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: digestRetentionDays } },
        },
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      },
    },
    DigestBucketPolicy: {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: { Ref: 'DigestBucket' },
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'TlsOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [
                { 'Fn::GetAtt': ['DigestBucket', 'Arn'] },
                // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder.
                { 'Fn::Sub': '${DigestBucket.Arn}/*' },
              ],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
    LabelKey: {
      Type: 'AWS::KMS::Key',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        Description: `${service}-${stage}: MACs rollback labels (rollback signs, writeHistory verifies)`,
        KeySpec: 'HMAC_256',
        KeyUsage: 'GENERATE_VERIFY_MAC',
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            keyStatement('AccountAdministersTheKey', ADMIN_ACTIONS, ACCOUNT),
            keyStatement('RollbackSealsLabels', ['kms:GenerateMac'], LABEL_SIGNERS.map(roleArn)),
            keyStatement('WriteHistoryChecksLabels', ['kms:VerifyMac'], LABEL_VERIFIERS.map(roleArn)),
          ],
        },
      },
    },
  };
}

/**
 * A value for the local stack only: `npm start` (DYNAMO_HISTORY_LOCAL=1) passes its own;
 * a deploy never reads these from the deployer's environment.
 * @param {string} name
 */
const localOnly = (name) => (process.env.DYNAMO_HISTORY_LOCAL === '1' ? (process.env[name] ?? '') : '');

/** LABEL_KMS_KEY_ID: the stack's LabelKey in AWS; empty locally, where LABEL_SECRET is used. */
const labelKmsKeyId = async () =>
  process.env.DYNAMO_HISTORY_LOCAL === '1' ? '' : { 'Fn::GetAtt': ['LabelKey', 'Arn'] };

/** LABEL_SECRET: the local stack's label secret; empty in AWS. */
const labelSecret = async () => localOnly('LABEL_SECRET');

/** DIGEST_KMS_KEY_ID and DIGEST_BUCKET in AWS; empty locally, where DIGEST_KEY_FILE and DIGEST_DIR are used. */
const digestKmsKeyId = async () =>
  process.env.DYNAMO_HISTORY_LOCAL === '1' ? '' : { 'Fn::GetAtt': ['DigestSigningKey', 'Arn'] };
const digestBucket = async () => (process.env.DYNAMO_HISTORY_LOCAL === '1' ? '' : { Ref: 'DigestBucket' });
const digestKeyFile = async () => localOnly('DIGEST_KEY_FILE');
/** CURSOR_SECRET_ARN in AWS (the generated secret), CURSOR_SECRET locally. */
const cursorSecretArn = async () => (process.env.DYNAMO_HISTORY_LOCAL === '1' ? '' : { Ref: 'CursorSecret' });
const cursorSecret = async () => localOnly('CURSOR_SECRET');
const digestDir = async () => localOnly('DIGEST_DIR');

/**
 * Entry point for serverless.yml's ${file(...)} variable source.
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function cloudFormation({ resolveVariable }) {
  return {
    Resources: securityResources({
      service: await resolveVariable('self:service'),
      stage: await resolveVariable('sls:stage'),
      digestRetentionDays: Number(await resolveVariable("env:DIGEST_RETENTION_DAYS, '365'")),
    }),
  };
}

module.exports = {
  securityResources,
  localOnly,
  labelKmsKeyId,
  labelSecret,
  digestKmsKeyId,
  digestBucket,
  digestKeyFile,
  cursorSecretArn,
  cursorSecret,
  digestDir,
  LABEL_SIGNERS,
  LABEL_VERIFIERS,
  cloudFormation,
};
