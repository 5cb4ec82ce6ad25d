// @ts-check
// One least-privilege IAM role per function. No role may DeleteItem on the history table:
// history is append-only, and only writeHistory appends (PutItem, conditional). Under a
// retention policy writeHistory may also UpdateItem, but only the `expiresAt` TTL attribute.
const { retentionEnabled, EXPIRES_AT } = require('./tables.js');

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

/** @typedef {import('../shared/core/stage-config.js').RecordedTable} RecordedTable */

/** The created table's own definition when no tables are attached. @type {RecordedTable[]} */
const CREATED = [{ latest: '', history: '', failures: '', key: 'id', id: '' }];

/**
 * What each function may do, beyond writing its own logs, over exactly the recorded tables:
 * the created table, or the attached tables' ARNs (each table's ARN is its stream ARN's prefix).
 * @param {RecordedTable[]} [tables]
 */
function permissions(tables = CREATED) {
  const histories = tables.map((t) => arn(`HistoryTable${t.id}`));
  const failures = tables.map((t) => arn(`FailuresTable${t.id}`));
  const byTime = tables.map((t) => ({
    // A CloudFormation Fn::Sub placeholder (escaped here), not a JavaScript one.
    'Fn::Sub': `\${HistoryTable${t.id}.Arn}/index/byTime`,
  }));
  const byActivity = tables.map((t) => ({
    'Fn::Sub': `\${HistoryTable${t.id}.Arn}/index/byActivity`,
  }));
  const latest = tables.map((t) => (t.stream ? t.stream.split('/stream/')[0] : arn('LatestTable')));
  const streams = tables.map((t) => t.stream ?? { 'Fn::GetAtt': ['LatestTable', 'StreamArn'] });
  /** @param {unknown[]} list */
  const one = (list) => (list.length === 1 ? list[0] : list);
  return {
    writeHistory: [
      allow(
        'ReadLatestStream',
        [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
        one(streams),
      ),
      // Query: the chain head; GetItem: a backfilled snapshot the duplicate check compares with.
      allow('AppendHistory', ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem'], one(histories)),
      // GetItem: parking never overwrites, so it reads an id before it writes it.
      allow('ParkFailures', ['dynamodb:GetItem', 'dynamodb:PutItem'], one(failures)),
      allow('OnFailureDestination', ['sqs:SendMessage'], arn('StreamOnFailureQueue')),
    ],
    // Rollback writes the latest table only, always conditionally; it never touches history.
    rollback: [
      allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], one(histories)),
      allow('WriteLatest', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], one(latest)),
    ],
    // The same rollback over HTTP (IAM auth): the actor is the caller API Gateway authenticated.
    rollbackHttp: [
      allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], one(histories)),
      allow('WriteLatest', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], one(latest)),
    ],
    // The scheduled digest: verify reads every table whole, then one write-once object in the digest bucket.
    // verify streams: a keys-only Scan of history, then one Query per item; a keys-only Scan of the
    // latest table, and one GetItem per item to compare it with its history's head.
    publishDigest: [
      allow('ReadHistory', ['dynamodb:Scan', 'dynamodb:Query'], one(histories)),
      allow('ReadLatest', ['dynamodb:Scan', 'dynamodb:GetItem'], one(latest)),
      allow('ReadFailures', ['dynamodb:Scan'], one(failures)),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, not JavaScript.
      allow('StoreDigest', ['s3:PutObject'], { 'Fn::Sub': '${DigestBucket.Arn}/digests/*' }),
    ],
    listVersions: [
      allow('ReadHistory', ['dynamodb:Query'], one(histories)),
      allow('ReadCursorSecret', ['secretsmanager:GetSecretValue'], { Ref: 'CursorSecret' }),
    ],
    getVersion: [allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], one(histories))],
    asOf: [allow('ReadHistory', ['dynamodb:Query'], [...histories, ...byTime])],
    diff: [allow('ReadHistory', ['dynamodb:GetItem', 'dynamodb:Query'], one(histories))],
    // The activity index only: it projects what a listing shows, never an image.
    listActivity: [
      allow('ReadActivity', ['dynamodb:Query'], one(byActivity)),
      allow('ReadCursorSecret', ['secretsmanager:GetSecretValue'], { Ref: 'CursorSecret' }),
    ],
  };
}

/** The created-table mode's permissions. */
const PERMISSIONS = permissions();

/**
 * The one history update retention needs: writeHistory sets `expiresAt` on versions that left
 * the window. `dynamodb:Attributes` limits the request to the key and that attribute, and
 * `dynamodb:ReturnValues` to NONE, so the role can neither change a record nor read one this way.
 */
/** @param {RecordedTable[]} [tables] */
const expireHistory = (tables = CREATED) => {
  const histories = tables.map((t) => arn(`HistoryTable${t.id}`));
  return {
    ...allow('ExpireHistory', ['dynamodb:UpdateItem'], histories.length === 1 ? histories[0] : histories),
    Condition: {
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['itemKey', 'version', EXPIRES_AT] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    },
  };
};
const EXPIRE_HISTORY = expireHistory();

/** `writeHistory` → `WriteHistoryRole`: the logical id serverless.yml names in each function's `role`. */
/** @param {string} fn */
const roleIdOf = (fn) => `${fn.charAt(0).toUpperCase()}${fn.slice(1)}Role`;

/**
 * @param {{ service?: string, stage?: string, retention?: boolean, tables?: RecordedTable[] }} [options]
 */
function roles({ service = 'dynamo-history', stage = 'dev', retention = false, tables } = {}) {
  /** @type {Record<string, unknown>} */
  const out = {};
  const attached = tables?.some((t) => t.id !== '') ? tables : undefined;
  for (const [fn, granted] of Object.entries(permissions(attached))) {
    const statements = fn === 'writeHistory' && retention ? [...granted, expireHistory(attached)] : granted;
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
  const settings = await require('./deployment.js').settingsOf(resolveVariable);
  return {
    Resources: roles({
      service: settings.service,
      stage: settings.stage,
      retention: retentionEnabled(settings.retention),
      tables: settings.tables,
    }),
  };
}

module.exports = { roles, roleIdOf, permissions, PERMISSIONS, EXPIRE_HISTORY, cloudFormation };
