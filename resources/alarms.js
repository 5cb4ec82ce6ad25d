// @ts-check
// Alarms that say history is falling behind or losing records, sent to one SNS topic
// (subscribe your pager to it). Included by serverless.yml next to the tables and roles.

const FUNCTIONS = [
  'writeHistory',
  'rollback',
  'rollbackHttp',
  'publishDigest',
  'listVersions',
  'getVersion',
  'asOf',
  'diff',
  'listActivity',
];

/**
 * @param {string} name
 * @param {string} description
 * @param {Record<string, unknown>} metric
 */
const alarm = (name, description, metric) => ({
  Type: 'AWS::CloudWatch::Alarm',
  Properties: {
    AlarmName: name,
    AlarmDescription: description,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [{ Ref: 'AlarmTopic' }],
    OKActions: [{ Ref: 'AlarmTopic' }],
    ...metric,
  },
});

/**
 * @param {{ service?: string, stage?: string, alarmEmail?: string }} [options]
 */
function alarms({ service = 'dynamo-history', stage = 'dev', alarmEmail = '' } = {}) {
  const prefix = `${service}-${stage}`;
  /**
   * One of the service's own EMF metrics, alarmed when above 0.
   * @param {string} name @param {string} statistic @param {number} period
   */
  const ownMetric = (name, statistic, period) => ({
    Namespace: 'DynamoHistory',
    MetricName: name,
    Dimensions: [
      { Name: 'Service', Value: service },
      { Name: 'Stage', Value: stage },
    ],
    Statistic: statistic,
    Period: period,
    EvaluationPeriods: 1,
    Threshold: 0,
  });
  /** @type {Record<string, unknown>} */
  const out = {
    // CloudWatch can publish to an encrypted topic only through a customer-managed key whose policy lets
    // cloudwatch.amazonaws.com use it; the AWS-managed alias/aws/sns key's policy cannot (SNS Developer
    // Guide, "Enable compatibility between event sources from AWS services and encrypted topics").
    AlarmTopicKey: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `${prefix}: encrypts the alarm topic; CloudWatch may use it to publish`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministersTheKey',
              Effect: 'Allow',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder.
              Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              Sid: 'CloudWatchPublishesAlarms',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Resource: '*',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
      },
    },
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: { TopicName: `${prefix}-alarms`, KmsMasterKeyId: { Ref: 'AlarmTopicKey' } },
    },
    HistoryLagAlarm: alarm(
      `${prefix}-history-lag`,
      'History is falling behind the latest table: stream iterator age over 60 s.',
      {
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: `${prefix}-writeHistory` }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 5,
        Threshold: 60_000,
      },
    ),
    ParkedRecordsAlarm: alarm(
      `${prefix}-parked-records`,
      'Stream records were parked in the failures table: see the runbook.',
      ownMetric('Parked', 'Sum', 300),
    ),
    DigestFindingsAlarm: alarm(
      `${prefix}-digest-findings`,
      'verify found findings while publishing the signed digest: run dynamo-history verify.',
      ownMetric('DigestFindings', 'Maximum', 3600),
    ),
    StreamOnFailureAlarm: alarm(
      `${prefix}-stream-on-failure`,
      'The stream mapping gave up on records (on-failure queue not empty).',
      {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['StreamOnFailureQueue', 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
      },
    ),
  };
  // The stage file's alarmEmail: SNS mails a confirmation link first; alarms arrive once it is followed.
  if (alarmEmail)
    out.AlarmEmailSubscription = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: alarmEmail },
    };
  for (const fn of FUNCTIONS) {
    out[`${fn.charAt(0).toUpperCase()}${fn.slice(1)}ErrorsAlarm`] = alarm(
      `${prefix}-${fn}-errors`,
      `${fn} failed invocations.`,
      {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: `${prefix}-${fn}` }],
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
      },
    );
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
    Resources: alarms({ service: settings.service, stage: settings.stage, alarmEmail: settings.alarmEmail }),
    extensions: logGroupsKept(),
  };
}

/**
 * The functions' log groups (which Serverless creates as `<Function>LogGroup`) outlive the stack: they
 * hold writeHistory's account of every parked record and refused event.
 */
function logGroupsKept() {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const fn of FUNCTIONS)
    out[`${fn.charAt(0).toUpperCase()}${fn.slice(1)}LogGroup`] = {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    };
  return out;
}

module.exports = { alarms, FUNCTIONS, cloudFormation };
