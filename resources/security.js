// @ts-check
// Keys that make history's labels and digests provable (README, "Threat model").
// - LabelKey (KMS HMAC_256): the rollback roles may only GenerateMac, writeHistory may only
//   VerifyMac, so no plain writer, and not writeHistory itself, can mint a rollback label.
// The key policy names the roles directly (the roles' own policies do not mention the key:
// naming it there as well would make the key and the roles depend on each other).

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

/**
 * @param {{ service?: string, stage?: string }} [options]
 */
function securityResources({ service = 'dynamo-history', stage = 'dev' } = {}) {
  return {
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
            {
              Sid: 'AccountAdministersTheKey',
              Effect: 'Allow',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder.
              Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
              Action: ADMIN_ACTIONS,
              Resource: '*',
            },
            {
              Sid: 'RollbackSealsLabels',
              Effect: 'Allow',
              Principal: { AWS: LABEL_SIGNERS.map(roleArn) },
              Action: ['kms:GenerateMac'],
              Resource: '*',
            },
            {
              Sid: 'WriteHistoryChecksLabels',
              Effect: 'Allow',
              Principal: { AWS: LABEL_VERIFIERS.map(roleArn) },
              Action: ['kms:VerifyMac'],
              Resource: '*',
            },
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

/**
 * Entry point for serverless.yml's ${file(...)} variable source.
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function cloudFormation({ resolveVariable }) {
  return {
    Resources: securityResources({
      service: await resolveVariable('self:service'),
      stage: await resolveVariable('sls:stage'),
    }),
  };
}

module.exports = {
  securityResources,
  localOnly,
  labelKmsKeyId,
  labelSecret,
  LABEL_SIGNERS,
  LABEL_VERIFIERS,
  cloudFormation,
};
