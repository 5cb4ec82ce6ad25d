// @ts-check
// What a stage records, for serverless.yml: the functions' environment and writeHistory's stream
// events, from the stage's settings file (shared/core/stage-config.js). A stage other than `dev`
// must have one, so that its configuration is versioned rather than taken from the deployer's shell.

const { resolve } = require('node:path');
const { deploymentSettings, recordedTablesEnv } = require('../shared/core/stage-config.js');
const mapping = require('./stream-mapping.json');

const ROOT = resolve(__dirname, '..');

/**
 * The stage's settings, as serverless.yml's variable resolver sees the stage.
 * @param {(expression: string) => Promise<string>} resolveVariable
 */
async function settingsOf(resolveVariable) {
  const service = await resolveVariable('self:service');
  const stage = await resolveVariable('sls:stage');
  const local = process.env.DYNAMO_HISTORY_LOCAL === '1';
  return {
    service,
    stage,
    ...deploymentSettings({ service, stage, cwd: ROOT, requireFile: stage !== 'dev' && !local }),
  };
}

/**
 * The environment every function gets. The created table is described by LATEST_TABLE_NAME,
 * HISTORY_TABLE_NAME, ...; attached tables by RECORDED_TABLES (shared/core/config.ts loadConfigs).
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function environment({ resolveVariable }) {
  const settings = await settingsOf(resolveVariable);
  const [first] = settings.tables;
  /** @type {Record<string, string>} */
  const env = {
    STAGE: settings.stage,
    // The alarm metrics' Service dimension, as the alarms name it.
    SERVICE: settings.service,
    STREAM_TIME_RESOLUTION_SECONDS: process.env.STREAM_TIME_RESOLUTION_SECONDS?.trim() || '1',
    // Opt-in retention (README "Retention"); empty keeps history forever.
    HISTORY_RETENTION_DAYS: settings.retention.days,
    HISTORY_KEEP_VERSIONS: settings.retention.versions,
  };
  if (settings.mode === 'attached') {
    env.RECORDED_TABLES = recordedTablesEnv(settings);
    return env;
  }
  if (!first) throw new Error('no recorded table');
  return {
    ...env,
    LATEST_TABLE_NAME: first.latest,
    HISTORY_TABLE_NAME: first.history,
    FAILURES_TABLE_NAME: first.failures,
    KEY_ATTRIBUTES: first.key,
    VERSION_ATTRIBUTE: first.version ?? 'version',
    ACTOR_ATTRIBUTE: first.actor ?? 'modifiedBy',
  };
}

/**
 * writeHistory's event source mappings: one per recorded stream, all with the same
 * settings (resources/stream-mapping.json, which the local mapping follows too).
 * @param {{ resolveVariable: (expression: string) => Promise<string> }} context
 */
async function streamEvents({ resolveVariable }) {
  const settings = await settingsOf(resolveVariable);
  return settings.tables.map((table) => ({
    stream: {
      type: 'dynamodb',
      arn: table.stream ?? { 'Fn::GetAtt': ['LatestTable', 'StreamArn'] },
      startingPosition: 'TRIM_HORIZON',
      batchSize: mapping.batchSize,
      batchWindow: mapping.maximumBatchingWindowInSeconds,
      maximumRetryAttempts: mapping.maximumRetryAttempts,
      maximumRecordAgeInSeconds: mapping.maximumRecordAgeInSeconds,
      bisectBatchOnFunctionError: mapping.bisectBatchOnFunctionError,
      parallelizationFactor: mapping.parallelizationFactor,
      functionResponseType: 'ReportBatchItemFailures',
      destinations: { onFailure: { arn: { 'Fn::GetAtt': ['StreamOnFailureQueue', 'Arn'] }, type: 'sqs' } },
    },
  }));
}

/**
 * The audit and rollback routes: `/items/{itemKey}/…` for a deployment of one table, and
 * `/tables/{table}/items/{itemKey}/…`, which addresses any recorded table.
 * @param {string} suffix the route after the item, such as `versions/{n}`
 * @param {'get' | 'post'} method
 */
const routes = (suffix, method) =>
  ['/items/{itemKey}/', '/tables/{table}/items/{itemKey}/'].map((prefix) => ({
    http: { path: `${prefix}${suffix}`, method, authorizer: 'aws_iam' },
  }));

module.exports = {
  settingsOf,
  environment,
  streamEvents,
  listVersionsEvents: async () => routes('versions', 'get'),
  getVersionEvents: async () => routes('versions/{n}', 'get'),
  asOfEvents: async () => routes('as-of', 'get'),
  diffEvents: async () => routes('diff', 'get'),
  rollbackEvents: async () => routes('rollback', 'post'),
  listActivityEvents: async () =>
    ['/activity', '/tables/{table}/activity'].map((path) => ({
      http: { path, method: 'get', authorizer: 'aws_iam' },
    })),
};
