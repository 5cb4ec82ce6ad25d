// @ts-check
// One least-privilege IAM role per function. No role may DeleteItem on the history table:
// history is append-only, and only writeHistory appends (PutItem, conditional). Under a
// retention policy writeHistory may also UpdateItem, but only the `expiresAt` TTL attribute.
const { retentionConfigured, EXPIRES_AT } = require('./tables.js');

/** @param {string} logicalId */
const arn = (logicalId) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
/**
 * @param {string} sid
 * @param {string[]} actions
 * @param {unknown} resource
 */
const allow = (sid, actions, resource) => ({
  Sid: sid,
  Effect: 'Allow',
  Action: actions,
  Resource: resource,
});

/** What each function may do, beyond writing its own logs. */
const PERMISSIONS = {
  writeHistory: [
    allow(
      'ReadLatestStream',
      ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
      { 'Fn::GetAtt': ['LatestTable', 'StreamArn'] },
    ),
    allow('AppendHistory', ['dynamodb:Query', 'dynamodb:PutItem'], arn('HistoryTable')),
    allow('ParkFailures', ['dynamodb:PutItem'], arn('FailuresTable')),
    allow('OnFailureDestination', ['sqs:SendMessage'], arn('StreamOnFailureQueue')),
  ],
  // Rollback writes the latest table only, always conditionally; it never touches history.
  rollback: [
    allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], arn('HistoryTable')),
    allow('WriteLatest', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], arn('LatestTable')),
  ],
  // The same rollback over HTTP (IAM auth): the actor is the caller API Gateway authenticated.
  rollbackHttp: [
    allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], arn('HistoryTable')),
    allow('WriteLatest', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], arn('LatestTable')),
  ],
  // The scheduled digest: verify reads every table whole, then one write-once object in the digest bucket.
  publishDigest: [
    allow('ReadHistory', ['dynamodb:Scan'], arn('HistoryTable')),
    allow('ReadLatest', ['dynamodb:Scan'], arn('LatestTable')),
    allow('ReadFailures', ['dynamodb:Scan'], arn('FailuresTable')),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not JavaScript.
    allow('StoreDigest', ['s3:PutObject'], { 'Fn::Sub': '${DigestBucket.Arn}/digests/*' }),
  ],
  listVersions: [
    allow('ReadHistory', ['dynamodb:Query'], arn('HistoryTable')),
    allow('ReadCursorSecret', ['secretsmanager:GetSecretValue'], { Ref: 'CursorSecret' }),
  ],
  getVersion: [allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], arn('HistoryTable'))],
  asOf: [
    allow(
      'ReadHistory',
      ['dynamodb:Query'],
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not JavaScript.
      [arn('HistoryTable'), { 'Fn::Sub': '${HistoryTable.Arn}/index/byTime' }],
    ),
  ],
  diff: [allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], arn('HistoryTable'))],
};

/**
 * The one history update retention needs: writeHistory sets `expiresAt` on versions that left
 * the window. `dynamodb:Attributes` limits the request to the key and that attribute, and
 * `dynamodb:ReturnValues` to NONE, so the role can neither change a record nor read one this way.
 */
const EXPIRE_HISTORY = {
  ...allow('ExpireHistory', ['dynamodb:UpdateItem'], arn('HistoryTable')),
  Condition: {
    'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['itemKey', 'version', EXPIRES_AT] },
    StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
  },
};

/** `writeHistory` → `WriteHistoryRole`: the logical id serverless.yml names in each function's `role`. */
/** @param {string} fn */
const roleIdOf = (fn) => `${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`;

/**
 * @param {{ service?: string, stage?: string, retention?: boolean }} [options]
 */
function roles({ service = 'dynamo-history', stage = 'dev', retention = false } = {}) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [fn, granted] of Object.entries(PERMISSIONS)) {
    const statements = fn === 'writeHistory' && retention ? [...granted, EXPIRE_HISTORY] : granted;
    out[roleIdOf(fn)] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
        Policies: [
          {
            PolicyName: fn,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                allow('Logs', ['logs:CreateLogStream', 'logs:PutLogEvents'], {
                  'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${service}-${stage}-${fn}:*`,
                }),
                ...statements,
              ],
            },
          },
        ],
      },
    };
  }
  return out;
}

/**
 * Entry point for serverless.yml's ${file(...)} variable source.
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function cloudFormation({ resolveVariable }) {
  return {
    Resources: roles({
      service: await resolveVariable('self:service'),
      stage: await resolveVariable('sls:stage'),
      retention: await retentionConfigured(resolveVariable),
    }),
  };
}

module.exports = { roles, roleIdOf, PERMISSIONS, EXPIRE_HISTORY, cloudFormation };
