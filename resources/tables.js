// @ts-check
// CloudFormation for dynamo-history's tables and queue: the single source of truth.
// serverless.yml includes it with ${file(./resources/tables.js):cloudFormation}, and the
// local stack creates DynamoDB Local's tables from the same definitions (local/tables.ts).
// It is JavaScript because the latest table's key schema follows KEY_ATTRIBUTES.

const { parseKeyAttributeSpec } = require('../shared/core/key-attributes.js');

/** @typedef {import('../shared/core/key-attributes.js').KeyAttribute} KeyAttribute */

/**
 * The key schema KEY_ATTRIBUTES names, by the one parser the code uses too.
 * @param {string} spec KEY_ATTRIBUTES: `id`, `pk,sk`, or typed `pk:S,sk:N`.
 * @returns {KeyAttribute[]}
 */
const keyAttributesOf = (spec) => parseKeyAttributeSpec(spec);

/**
 * @param {{ service?: string, stage?: string, keyAttributes?: string }} [options]
 */
function tableNames({ service = 'dynamo-history', stage = 'dev' } = {}) {
  return {
    latest: `${service}-${stage}-latest`,
    history: `${service}-${stage}-history`,
    failures: `${service}-${stage}-failures`,
  };
}

/** TTL attribute of history records that left the retention window (shared/core/constants.ts EXPIRES_AT). */
const EXPIRES_AT = 'expiresAt';

/**
 * Whether a retention policy is configured (HISTORY_RETENTION_DAYS or HISTORY_KEEP_VERSIONS).
 * @param {{ days?: string, versions?: string }} env
 */
const retentionEnabled = ({ days = '', versions = '' }) => days.trim() !== '' || versions.trim() !== '';

/** @typedef {import('../shared/core/stage-config.js').RecordedTable} RecordedTable */

/** The history tables' table-wide activity index (README, "Table-wide activity"). */
const ACTIVITY_INDEX = {
  // Every item's changes in time order, for "what changed between T1 and T2" (README,
  // "Table-wide activity"): activityBucket = UTC day + one of 8 write shards, activityKey =
  // recordedAt#itemDigest#version. The projection is what an activity listing shows, so a
  // page is one Query per shard and never reads the records' images.
  IndexName: 'byActivity',
  KeySchema: [
    { AttributeName: 'activityBucket', KeyType: 'HASH' },
    { AttributeName: 'activityKey', KeyType: 'RANGE' },
  ],
  Projection: {
    ProjectionType: 'INCLUDE',
    NonKeyAttributes: ['op', 'source', 'actor', 'recordedAt', 'versionNumber', 'restoredFrom'],
  },
};

/**
 * The Resources section. Tables are PAY_PER_REQUEST with PITR and SSE, retained
 * on stack deletion, and protected from deletion outside the dev stage. The
 * history table's TTL is on only under a retention policy: otherwise nothing,
 * not even a stray `expiresAt`, can make DynamoDB delete history.
 *
 * With `tables` (attached, existing tables: the stage file's), no latest table is
 * created: each attached table gets its own history and failures tables
 * (`HistoryTable<id>`, `FailuresTable<id>`), so histories never collide.
 *
 * `activityIndex: false` (the stage file's) leaves out the `byActivity` GSI. Records keep their
 * activity keys either way, so turning it back on indexes the whole history.
 * @param {{ service?: string, stage?: string, keyAttributes?: string, retention?: boolean, activityIndex?: boolean, tables?: RecordedTable[] }} [options]
 */
function resources({
  service = 'dynamo-history',
  stage = 'dev',
  keyAttributes = 'id',
  retention = false,
  activityIndex = true,
  tables,
} = {}) {
  const names = tableNames({ service, stage });
  const protect = stage !== 'dev';
  const common = {
    BillingMode: 'PAY_PER_REQUEST',
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    SSESpecification: { SSEEnabled: true },
    DeletionProtectionEnabled: protect,
  };
  const retained = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
  /** @param {string} name */
  const historyTable = (name) => ({
    Type: 'AWS::DynamoDB::Table',
    ...retained,
    Properties: {
      TableName: name,
      ...common,
      AttributeDefinitions: [
        { AttributeName: 'itemKey', AttributeType: 'S' },
        { AttributeName: 'version', AttributeType: 'S' },
        { AttributeName: 'timeKey', AttributeType: 'S' },
        // DynamoDB refuses a definition no key or index uses: these come with the index.
        ...(activityIndex
          ? [
              { AttributeName: 'activityBucket', AttributeType: 'S' },
              { AttributeName: 'activityKey', AttributeType: 'S' },
            ]
          : []),
      ],
      KeySchema: [
        { AttributeName: 'itemKey', KeyType: 'HASH' },
        { AttributeName: 'version', KeyType: 'RANGE' },
      ],
      ...(retention ? { TimeToLiveSpecification: { AttributeName: EXPIRES_AT, Enabled: true } } : {}),
      LocalSecondaryIndexes: [
        {
          // timeKey = recordedAt#version: time order, with ties (stream times are whole seconds) broken by version.
          IndexName: 'byTime',
          KeySchema: [
            { AttributeName: 'itemKey', KeyType: 'HASH' },
            { AttributeName: 'timeKey', KeyType: 'RANGE' },
          ],
          // KEYS_ONLY: DynamoDB counts LSI entries against the 400 KB item limit, so an ALL
          // projection would halve the largest history item. Queries still fetch full items.
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      ...(activityIndex ? { GlobalSecondaryIndexes: [ACTIVITY_INDEX] } : {}),
    },
  });
  /** @param {string} name */
  const failuresTable = (name) => ({
    Type: 'AWS::DynamoDB::Table',
    ...retained,
    Properties: {
      TableName: name,
      ...common,
      AttributeDefinitions: [{ AttributeName: 'failureId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'failureId', KeyType: 'HASH' }],
    },
  });
  // Backstop for the AWS event source mappings: metadata of batches they gave up on.
  const queue = {
    StreamOnFailureQueue: {
      Type: 'AWS::SQS::Queue',
      // It may hold the only record of changes the mapping gave up on: never dropped with the stack.
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        QueueName: `${service}-${stage}-stream-on-failure`,
        MessageRetentionPeriod: 1209600,
        SqsManagedSseEnabled: true,
      },
    },
  };
  if (tables?.some((t) => t.id !== '')) {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const t of tables) {
      out[`HistoryTable${t.id}`] = historyTable(t.history);
      out[`FailuresTable${t.id}`] = failuresTable(t.failures);
    }
    return { ...out, ...queue };
  }
  const key = keyAttributesOf(keyAttributes);
  return {
    LatestTable: {
      Type: 'AWS::DynamoDB::Table',
      ...retained,
      Properties: {
        TableName: names.latest,
        ...common,
        AttributeDefinitions: key.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
        KeySchema: key.map((k, i) => ({ AttributeName: k.name, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      },
    },
    HistoryTable: historyTable(names.history),
    FailuresTable: failuresTable(names.failures),
    ...queue,
  };
}

/**
 * Entry point for serverless.yml's ${file(...)} variable source.
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function cloudFormation({ resolveVariable }) {
  const settings = await require('./deployment.js').settingsOf(resolveVariable);
  return {
    Resources: resources({
      service: settings.service,
      stage: settings.stage,
      keyAttributes: settings.keyAttributes || 'id',
      retention: retentionEnabled(settings.retention),
      activityIndex: settings.activityIndex,
      tables: settings.tables,
    }),
  };
}

/**
 * The recorded stream's ARN for writeHistory's LATEST_STREAM_ARN: the table's own
 * stream in CloudFormation, or, for the local stack, the DynamoDB Local stream that
 * local/start.ts found (it passes it as LATEST_STREAM_ARN, with DYNAMO_HISTORY_LOCAL=1).
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function latestStreamArn({ resolveVariable }) {
  const settings = await require('./deployment.js').settingsOf(resolveVariable);
  // Attached tables: each stream is in RECORDED_TABLES.
  if (settings.mode === 'attached') return '';
  const local = process.env.DYNAMO_HISTORY_LOCAL === '1' ? process.env.LATEST_STREAM_ARN : undefined;
  return local || { 'Fn::GetAtt': ['LatestTable', 'StreamArn'] };
}

module.exports = {
  latestStreamArn,
  resources,
  tableNames,
  keyAttributesOf,
  retentionEnabled,
  EXPIRES_AT,
  cloudFormation,
};
