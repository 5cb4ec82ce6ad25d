import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

type Resource = { Type: string; DeletionPolicy?: string; Properties: Record<string, unknown> };
type Template = { Resources: Record<string, Resource> };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

const ROOT = resolve(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'dh-package-'));
/** What `serverless package` printed, by package name. */
const packagingOutput = new Map<string, string>();

/**
 * `serverless package`, offline, for a stage: the CloudFormation AWS would receive. `settings`
 * is the stage's settings file (config/<stage>.json), written to the work folder; `name` the package's.
 */
function pack(
  stage: string,
  env: NodeJS.ProcessEnv = {},
  settings?: unknown,
  name: string = stage,
): Promise<Template> {
  const dir = join(work, name);
  const configFile = join(work, `${name}.json`);
  if (settings !== undefined) writeFileSync(configFile, JSON.stringify(settings));
  return new Promise((done, fail) => {
    execFile(
      join(ROOT, 'node_modules', '.bin', 'serverless'),
      ['package', '--stage', stage, '--package', dir],
      {
        cwd: ROOT,
        // Its own build folder: an e2e test may be running serverless-offline from the default one.
        env: {
          ...process.env,
          SLS_TELEMETRY_DISABLED: '1',
          SLS_NOTIFICATIONS_MODE: 'off',
          ESBUILD_WORK_FOLDER: '.esbuild-package-test',
          HISTORY_RETENTION_DAYS: '',
          HISTORY_KEEP_VERSIONS: '',
          KEY_ATTRIBUTES: '',
          DYNAMO_HISTORY_CONFIG: settings === undefined ? join(work, 'none.json') : configFile,
          ...env,
        },
        timeout: 120_000,
      },
      (error, stdout, stderr) => {
        if (error) return fail(new Error(`serverless package failed: ${stderr}\n${stdout}`));
        packagingOutput.set(name, `${stdout}${stderr}`);
        done(
          JSON.parse(
            readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'),
          ) as Template,
        );
      },
    );
  });
}

/** Logical ids a policy resource points at (Fn::GetAtt, or a Fn::Sub naming one). */
function targets(resource: unknown): string[] {
  const list = Array.isArray(resource) ? resource : [resource];
  return list.flatMap((r) => {
    if (typeof r === 'string') return [r];
    const getAtt = (r as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
    if (getAtt) return [getAtt[0] as string];
    const sub = (r as { 'Fn::Sub'?: string })['Fn::Sub'];
    const match = typeof sub === 'string' ? /\$\{(\w+)\.Arn\}/.exec(sub) : null;
    return match ? [match[1] as string] : [JSON.stringify(r)];
  });
}

function statementsOf(role: Resource): Statement[] {
  const policies = role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const WRITES = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLInsert',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
  'dynamodb:*',
];

/** What a role may do to one logical resource. */
function allowedOn(role: Resource, logicalId: string): string[] {
  return statementsOf(role)
    .filter((s) => s.Effect === 'Allow' && targets(s.Resource).includes(logicalId))
    .flatMap(actions);
}

let prod: Template;
let dev: Template;
let one: Template;
let two: Template;

/** DynamoDB stream ARNs of existing tables, as DescribeTable's LatestStreamArn gives them. */
const streamOf = (table: string) =>
  `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}/stream/2026-12-01T10:00:00.000`;
const tableArnOf = (table: string) => `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}`;

beforeAll(async () => {
  // One at a time: serverless-esbuild builds into one shared folder.
  // prod: the created table, its settings in a stage file, without retention.
  prod = await pack('prod', {}, { keyAttributes: 'id', alarmEmail: 'ops@example.com' });
  // dev: no stage file; the variables give it a retention policy.
  dev = await pack('dev', { HISTORY_RETENTION_DAYS: '90', HISTORY_KEEP_VERSIONS: '5' });
  // One existing table, and two with retention.
  one = await pack(
    'prod',
    {},
    { tables: [{ name: 'Orders', key: 'pk:S,sk:N', streamArn: streamOf('Orders') }] },
    'one',
  );
  two = await pack(
    'prod',
    {},
    {
      tables: [
        { name: 'Orders', key: 'pk:S,sk:N', streamArn: streamOf('Orders') },
        { name: 'app.customers', key: 'id', streamArn: streamOf('app.customers'), versionAttribute: 'rev' },
      ],
      retentionDays: 365,
    },
    'two',
  );
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const functionsOf = (t: Template) =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
const roleOf = (t: Template, fn: string) => {
  const f = t.Resources[fn];
  if (!f) throw new Error(`no function ${fn} in the template`);
  const id = (f.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0] as string;
  return { id, role: t.Resources[id] as Resource };
};

describe('CloudFormation from `serverless package` (offline)', () => {
  it('gives every function a role of its own', () => {
    const roles = functionsOf(prod).map(([id]) => roleOf(prod, id).id);
    expect(roles.length).toBeGreaterThanOrEqual(6);
    expect(new Set(roles).size).toBe(roles.length);
  });

  it('without a retention policy, lets no role update or delete history; none uses wildcards', () => {
    for (const [id] of functionsOf(prod)) {
      const { role } = roleOf(prod, id);
      expect(allowedOn(role, 'HistoryTable')).not.toEqual(expect.arrayContaining(['dynamodb:UpdateItem']));
      expect(allowedOn(role, 'HistoryTable')).not.toEqual(expect.arrayContaining(['dynamodb:DeleteItem']));
      for (const s of statementsOf(role)) {
        expect(actions(s).some((a) => a.includes('*'))).toBe(false);
        expect(JSON.stringify(s.Resource)).not.toBe('"*"');
      }
    }
  });

  it('under a retention policy, turns on history TTL and lets writeHistory set expiresAt, and nothing else', () => {
    const history = (t: Template) => t.Resources.HistoryTable?.Properties ?? {};
    expect(history(prod).TimeToLiveSpecification).toBeUndefined();
    expect(history(dev).TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });

    const { role } = roleOf(dev, 'WriteHistoryLambdaFunction');
    const updates = statementsOf(role).filter((s) => actions(s).includes('dynamodb:UpdateItem'));
    expect(updates).toHaveLength(1);
    const [update] = updates as [Statement & { Condition?: unknown }];
    expect(targets(update.Resource)).toEqual(['HistoryTable']);
    expect(update.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['itemKey', 'version', 'expiresAt'] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
    expect(allowedOn(role, 'HistoryTable')).not.toContain('dynamodb:DeleteItem');
    for (const [id] of functionsOf(dev).filter(([fn]) => fn !== 'WriteHistoryLambdaFunction')) {
      expect(allowedOn(roleOf(dev, id).role, 'HistoryTable')).not.toContain('dynamodb:UpdateItem');
    }
    const env = (t: Template) => {
      const fn = t.Resources.WriteHistoryLambdaFunction;
      if (!fn) throw new Error('no writeHistory function in the template');
      return (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
    };
    expect(env(dev)).toMatchObject({ HISTORY_RETENTION_DAYS: '90', HISTORY_KEEP_VERSIONS: '5' });
    expect(env(prod)).toMatchObject({ HISTORY_RETENTION_DAYS: '', HISTORY_KEEP_VERSIONS: '' });
  });

  it('lets writeHistory append to history but not write the latest table', () => {
    const { role } = roleOf(prod, 'WriteHistoryLambdaFunction');
    expect(allowedOn(role, 'HistoryTable').sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ]);
    expect(allowedOn(role, 'LatestTable').filter((a) => WRITES.includes(a))).toEqual([]);
  });

  it('lets rollback write the latest table but not history', () => {
    const { role } = roleOf(prod, 'RollbackLambdaFunction');
    expect(allowedOn(role, 'HistoryTable').filter((a) => WRITES.includes(a))).toEqual([]);
    expect(allowedOn(role, 'LatestTable')).toEqual(
      expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:DeleteItem']),
    );
  });

  it('gives the audit functions read access to history only', () => {
    for (const fn of ['ListVersions', 'GetVersion', 'AsOf', 'Diff', 'ListActivity']) {
      const { role } = roleOf(prod, `${fn}LambdaFunction`);
      // Logs, and listVersions' cursor secret (checked on its own below): the rest reads history.
      const all = statementsOf(role).filter((s) => s.Sid !== 'Logs' && s.Sid !== 'ReadCursorSecret');
      expect(all.flatMap(actions).every((a) => a === 'dynamodb:Query' || a === 'dynamodb:GetItem')).toBe(
        true,
      );
      expect(all.flatMap((s) => targets(s.Resource)).every((t) => t === 'HistoryTable')).toBe(true);
    }
  });

  it('protects every table: PITR, SSE, retained, deletion protection outside dev', () => {
    for (const id of ['LatestTable', 'HistoryTable', 'FailuresTable']) {
      for (const [template, protect] of [
        [prod, true],
        [dev, false],
      ] as const) {
        const table = template.Resources[id] as Resource;
        expect(table.Properties.PointInTimeRecoverySpecification).toEqual({
          PointInTimeRecoveryEnabled: true,
        });
        expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
        expect(table.DeletionPolicy).toBe('Retain');
        expect(table.Properties.DeletionProtectionEnabled).toBe(protect);
      }
    }
  });

  it('maps the stream with partial batch responses, bisection, bounded retries and an on-failure queue', () => {
    const mapping = Object.values(prod.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mapping?.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['StreamOnFailureQueue', 'Arn'] } } },
    });
  });

  it('alarms on history lag, parked records, the on-failure queue and errors of every function', () => {
    const alarms = Object.values(prod.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const metrics = alarms.map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`);
    expect(metrics).toEqual(
      expect.arrayContaining([
        'AWS/Lambda/IteratorAge',
        'DynamoHistory/Parked',
        'AWS/SQS/ApproximateNumberOfMessagesVisible',
      ]),
    );
    const errorAlarms = alarms
      .filter((a) => a.Properties.MetricName === 'Errors')
      .map((a) => JSON.stringify(a.Properties.Dimensions));
    for (const [id, fn] of functionsOf(prod)) {
      expect(errorAlarms).toContainEqual(expect.stringContaining(String(fn.Properties.FunctionName)));
      expect(id).toMatch(/LambdaFunction$/);
    }
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('encrypts the alarm topic with a key CloudWatch may use, so alarm e-mails can arrive', () => {
    const topic = prod.Resources.AlarmTopic as Resource;
    expect(topic.Properties.KmsMasterKeyId).toEqual({ Ref: 'AlarmTopicKey' });
    const policy = (prod.Resources.AlarmTopicKey as Resource).Properties.KeyPolicy as {
      Statement: (Statement & { Principal: { Service?: string } })[];
    };
    const cloudwatch = policy.Statement.find((s) => s.Principal.Service === 'cloudwatch.amazonaws.com');
    expect(cloudwatch && actions(cloudwatch).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });

  it('keeps logs and the on-failure queue when the stack goes, and gives up before API Gateway does', () => {
    const logGroups = Object.entries(prod.Resources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup');
    expect(logGroups.length).toBe(functionsOf(prod).length);
    for (const [, group] of logGroups) expect(group.DeletionPolicy).toBe('Retain');
    expect(prod.Resources.StreamOnFailureQueue?.DeletionPolicy).toBe('Retain');
    // API Gateway's REST integration waits 29 s at most.
    for (const fn of ['ListVersions', 'GetVersion', 'AsOf', 'Diff', 'ListActivity', 'RollbackHttp'])
      expect(prod.Resources[`${fn}LambdaFunction`]?.Properties.Timeout).toBeLessThanOrEqual(29);
    for (const [, f] of functionsOf(prod)) {
      const variables = (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      // An SDK v2 setting (v3 reuses connections by default); and the metrics' Service is the service's name.
      expect(variables.AWS_NODEJS_CONNECTION_REUSE_ENABLED).toBeUndefined();
      expect(variables.SERVICE).toBe('dynamo-history');
    }
  });

  // The official linter against the CloudFormation resource specification (cfn-lint 1.51, from pip; these
  // machines have it). W3005 is Serverless v3's own: it gives each function a DependsOn on its role as well
  // as the GetAtt that already orders them, which is redundant and harmless.
  it.each([
    ['prod, created table, without retention', () => prod],
    ['dev, created table, with retention', () => dev],
    ['one existing table, without retention', () => one],
    ['two existing tables, with retention', () => two],
  ])('passes cfn-lint: %s', async (_mode, template) => {
    const file = join(work, `lint-${_mode.replace(/\W+/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(template()));
    const matches = await new Promise<{ Rule: { Id: string }; Message: string }[]>((done, fail) => {
      execFile(
        'cfn-lint',
        ['--format', 'json', '--ignore-checks', 'W3005', '--', file],
        (error, stdout, stderr) => {
          if (error && (error as { code?: unknown }).code === 'ENOENT')
            return fail(new Error('cfn-lint is not installed: pip install cfn-lint==1.51.0'));
          try {
            done(JSON.parse(stdout || '[]'));
          } catch {
            fail(new Error(`cfn-lint said: ${stderr || stdout}`));
          }
        },
      );
    });
    expect(matches.map((m) => `${m.Rule.Id}: ${m.Message}`)).toEqual([]);
  });

  it('packages with osls, the maintained Serverless v3, which knows nodejs22.x: no configuration warning', () => {
    const framework = JSON.parse(
      readFileSync(join(ROOT, 'node_modules', 'serverless', 'package.json'), 'utf8'),
    );
    expect(framework.name).toBe('osls');
    expect(framework.version.split('.')[0]).toBe('3');
    expect(packagingOutput.size).toBe(4);
    for (const output of packagingOutput.values()) {
      expect(output).toContain('Service packaged');
      expect(output).not.toMatch(/Invalid configuration|Warning/);
    }
  });

  it('puts IAM auth on every HTTP route', () => {
    const methods = Object.values(prod.Resources).filter((r) => r.Type === 'AWS::ApiGateway::Method');
    // Five item routes and the activity route, each with and without /tables/{table}.
    expect(methods).toHaveLength(12);
    for (const m of methods) expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('tells writeHistory its one trusted stream, and the rollback functions and writeHistory the label key', () => {
    const env = (fn: string) =>
      (prod.Resources[fn]?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    expect(env('WriteHistoryLambdaFunction').LATEST_STREAM_ARN).toEqual({
      'Fn::GetAtt': ['LatestTable', 'StreamArn'],
    });
    for (const fn of ['WriteHistoryLambdaFunction', 'RollbackLambdaFunction', 'RollbackHttpLambdaFunction']) {
      expect(env(fn).LABEL_KMS_KEY_ID).toEqual({ 'Fn::GetAtt': ['LabelKey', 'Arn'] });
      // No secret from the deployer's environment ever reaches a deployed function.
      expect(env(fn).LABEL_SECRET).toBe('');
    }
  });

  it('lets only publishDigest sign digests, into a compliance-mode Object Lock bucket it can only add to', () => {
    const key = prod.Resources.DigestSigningKey as Resource;
    expect(key.Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const statements = (
      key.Properties.KeyPolicy as { Statement: (Statement & { Principal: { AWS: unknown } })[] }
    ).Statement;
    const signers = statements.filter((s) => actions(s).includes('kms:Sign'));
    expect(signers.map((s) => JSON.stringify(s.Principal.AWS))).toEqual([
      JSON.stringify([{ 'Fn::GetAtt': ['PublishDigestRole', 'Arn'] }]),
    ]);
    const bucket = prod.Resources.DigestBucket as Resource;
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE' } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const { role } = roleOf(prod, 'PublishDigestLambdaFunction');
    expect(allowedOn(role, 'DigestBucket')).toEqual(['s3:PutObject']);
    // It only reads: verify's Scans, and its per-item Query (history) and GetItem (latest).
    expect(allowedOn(role, 'HistoryTable').sort()).toEqual(['dynamodb:Query', 'dynamodb:Scan']);
    expect(allowedOn(role, 'LatestTable').sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Scan']);
    expect(allowedOn(role, 'FailuresTable')).toEqual(['dynamodb:Scan']);
    // No other role touches the bucket.
    for (const [id] of functionsOf(prod))
      if (id !== 'PublishDigestLambdaFunction')
        expect(allowedOn(roleOf(prod, id).role, 'DigestBucket')).toEqual([]);
  });

  it('signs list cursors with a generated secret only the two listing functions can read', () => {
    expect(prod.Resources.CursorSecret?.Properties).toMatchObject({
      GenerateSecretString: { PasswordLength: 64 },
    });
    const listing = ['ListVersionsLambdaFunction', 'ListActivityLambdaFunction'];
    for (const id of listing) {
      const env = (
        prod.Resources[id]?.Properties.Environment as { Variables: Record<string, unknown> } | undefined
      )?.Variables;
      expect(env?.CURSOR_SECRET_ARN).toEqual({ Ref: 'CursorSecret' });
      expect(env?.CURSOR_SECRET).toBe('');
    }
    for (const [id] of functionsOf(prod)) {
      const grants = statementsOf(roleOf(prod, id).role).filter((s) =>
        actions(s).includes('secretsmanager:GetSecretValue'),
      );
      expect(grants.map((s) => s.Resource)).toEqual(listing.includes(id) ? [{ Ref: 'CursorSecret' }] : []);
    }
  });

  it('lets listActivity read the byActivity index and nothing else of history', () => {
    const { role } = roleOf(prod, 'ListActivityLambdaFunction');
    const reads = statementsOf(role).filter((s) => s.Sid === 'ReadActivity');
    expect(reads.flatMap(actions)).toEqual(['dynamodb:Query']);
    expect(JSON.stringify(reads.map((s) => s.Resource))).toMatch(/HistoryTable\.Arn}\/index\/byActivity/);
    const table = prod.Resources.HistoryTable as Resource;
    const gsi = (table.Properties.GlobalSecondaryIndexes as { IndexName: string; Projection: unknown }[])[0];
    expect(gsi?.IndexName).toBe('byActivity');
    // What a listing shows, never the image.
    expect(JSON.stringify(gsi?.Projection)).not.toMatch(/image/);
  });

  it('lets only the rollback roles make label MACs and only writeHistory check them', () => {
    const key = prod.Resources.LabelKey as Resource;
    expect(key.Properties).toMatchObject({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const statements = (
      key.Properties.KeyPolicy as { Statement: (Statement & { Principal: { AWS: unknown } })[] }
    ).Statement;
    const principalsOf = (action: string) =>
      statements
        .filter((s) => actions(s).includes(action))
        .flatMap((s) => (Array.isArray(s.Principal.AWS) ? s.Principal.AWS : [s.Principal.AWS]))
        .map((p) => JSON.stringify(p));
    expect(principalsOf('kms:GenerateMac').sort()).toEqual(
      [{ 'Fn::GetAtt': ['RollbackRole', 'Arn'] }, { 'Fn::GetAtt': ['RollbackHttpRole', 'Arn'] }]
        .map((p) => JSON.stringify(p))
        .sort(),
    );
    expect(principalsOf('kms:VerifyMac')).toEqual([
      JSON.stringify({ 'Fn::GetAtt': ['WriteHistoryRole', 'Arn'] }),
    ]);
    // The account administers the key but cannot use it through that statement.
    for (const s of statements)
      expect(
        actions(s).some(
          (a) => ['kms:*', 'kms:GenerateMac', 'kms:VerifyMac'].includes(a) && s.Sid?.startsWith('Account'),
        ),
      ).toBe(false);
  });
});

describe('CloudFormation for existing tables (the stage file’s `tables`)', () => {
  const streamArns = (t: Template) =>
    Object.values(t.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map((r) => r.Properties.EventSourceArn);
  const resourcesOf = (t: Template, role: string, sid: string) => {
    const statement = statementsOf(roleOf(t, role).role).find((s) => s.Sid === sid);
    if (!statement) throw new Error(`${role} has no ${sid}`);
    return [statement.Resource].flat();
  };

  it('creates no latest table, and gives each attached table its own history and failures tables', () => {
    for (const t of [one, two]) expect(t.Resources.LatestTable).toBeUndefined();
    const names = (t: Template) =>
      Object.values(t.Resources)
        .filter((r) => r.Type === 'AWS::DynamoDB::Table')
        .map((r) => r.Properties.TableName)
        .sort();
    expect(names(one)).toEqual(['dynamo-history-prod-Orders-failures', 'dynamo-history-prod-Orders-history']);
    expect(names(two)).toEqual([
      'dynamo-history-prod-Orders-failures',
      'dynamo-history-prod-Orders-history',
      'dynamo-history-prod-app.customers-failures',
      'dynamo-history-prod-app.customers-history',
    ]);
    for (const r of Object.values(two.Resources).filter((x) => x.Type === 'AWS::DynamoDB::Table')) {
      expect(r.DeletionPolicy).toBe('Retain');
      expect(r.Properties.DeletionProtectionEnabled).toBe(true);
    }
    const ttl = Object.values(two.Resources)
      .filter((r) => String(r.Properties.TableName).endsWith('-history'))
      .map((r) => r.Properties.TimeToLiveSpecification);
    expect(ttl).toEqual([
      { AttributeName: 'expiresAt', Enabled: true },
      { AttributeName: 'expiresAt', Enabled: true },
    ]);
  });

  it('maps each attached stream, and scopes IAM to exactly those tables and streams', () => {
    expect(streamArns(one)).toEqual([streamOf('Orders')]);
    expect(streamArns(two).sort()).toEqual([streamOf('Orders'), streamOf('app.customers')].sort());
    expect(resourcesOf(two, 'WriteHistoryLambdaFunction', 'ReadLatestStream').sort()).toEqual(
      [streamOf('Orders'), streamOf('app.customers')].sort(),
    );
    for (const fn of ['RollbackLambdaFunction', 'RollbackHttpLambdaFunction'])
      expect(resourcesOf(two, fn, 'WriteLatest').sort()).toEqual(
        [tableArnOf('Orders'), tableArnOf('app.customers')].sort(),
      );
    expect(resourcesOf(one, 'PublishDigestLambdaFunction', 'ReadLatest')).toEqual([tableArnOf('Orders')]);
    // No role reaches any other table, and writeHistory still cannot write a latest table.
    const everything = JSON.stringify(two.Resources);
    expect(everything).not.toContain('LatestTable');
    const writes = statementsOf(roleOf(two, 'WriteHistoryLambdaFunction').role).filter((s) =>
      JSON.stringify(s.Resource).includes(':table/Orders"'),
    );
    expect(writes).toEqual([]);
  });

  it('tells every function the recorded tables, and writeHistory their streams', () => {
    const variables = (t: Template, fn: string) =>
      ((t.Resources[fn] as Resource).Properties.Environment as { Variables: Record<string, string> })
        .Variables;
    const recorded = JSON.parse(variables(two, 'WriteHistoryLambdaFunction').RECORDED_TABLES ?? '[]');
    expect(recorded).toEqual([
      {
        latest: 'Orders',
        history: 'dynamo-history-prod-Orders-history',
        failures: 'dynamo-history-prod-Orders-failures',
        key: 'pk:S,sk:N',
        stream: streamOf('Orders'),
      },
      {
        latest: 'app.customers',
        history: 'dynamo-history-prod-app.customers-history',
        failures: 'dynamo-history-prod-app.customers-failures',
        key: 'id',
        stream: streamOf('app.customers'),
        version: 'rev',
      },
    ]);
    for (const [fn] of functionsOf(two)) {
      expect(variables(two, fn).RECORDED_TABLES).toBe(
        variables(two, 'WriteHistoryLambdaFunction').RECORDED_TABLES,
      );
      expect(variables(two, fn).LATEST_TABLE_NAME).toBeUndefined();
      expect(variables(two, fn).HISTORY_RETENTION_DAYS).toBe('365');
    }
  });

  it('answers both /items/{itemKey}/… and /tables/{table}/items/{itemKey}/…, all with IAM auth', () => {
    const paths = Object.entries(two.Resources)
      .filter(([, r]) => r.Type === 'AWS::ApiGateway::Method')
      .map(([id, r]) => [id, r.Properties.AuthorizationType]);
    expect(paths.length).toBe(12);
    for (const [, auth] of paths) expect(auth).toBe('AWS_IAM');
    expect(paths.filter(([id]) => String(id).includes('Tables'))).toHaveLength(6);
  });

  it('mails alarms to the stage file’s alarmEmail', () => {
    expect(prod.Resources.AlarmEmailSubscription?.Properties).toEqual({
      TopicArn: { Ref: 'AlarmTopic' },
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    expect(one.Resources.AlarmEmailSubscription).toBeUndefined();
  });

  it('refuses to package a deployed stage without its settings file, or with a shell that contradicts it', async () => {
    await expect(pack('staging')).rejects.toThrow(/dynamo-history init --stage staging/);
    await expect(
      pack('prod', { HISTORY_RETENTION_DAYS: '30' }, { retentionDays: 365 }, 'contradicted'),
    ).rejects.toThrow(/HISTORY_RETENTION_DAYS=30 is set in the shell/);
  }, 120_000);
});

describe('each role grants what its code calls, and nothing else (the packaged bundles, read)', () => {
  /** AWS SDK commands → the IAM actions they need (TransactWriteItems needs each item's own action). */
  const ACTIONS: Record<string, string[]> = {
    GetItemCommand: ['dynamodb:GetItem'],
    PutItemCommand: ['dynamodb:PutItem'],
    UpdateItemCommand: ['dynamodb:UpdateItem'],
    DeleteItemCommand: ['dynamodb:DeleteItem'],
    QueryCommand: ['dynamodb:Query'],
    ScanCommand: ['dynamodb:Scan'],
    TransactWriteItemsCommand: ['dynamodb:PutItem'],
    // Backfill's grouped chain starts (INSERT statements only); in no function's bundle today.
    BatchExecuteStatementCommand: ['dynamodb:PartiQLInsert'],
    GetSecretValueCommand: ['secretsmanager:GetSecretValue'],
    PutObjectCommand: ['s3:PutObject'],
    GetObjectCommand: ['s3:GetObject'],
    // KMS is granted by the keys' own policies (checked above), not by the roles.
    GenerateMacCommand: [],
    VerifyMacCommand: [],
    SignCommand: [],
    GetPublicKeyCommand: [],
  };
  /** What Lambda itself does with a function's role: its logs, and for writeHistory the stream and the on-failure queue. */
  const SERVICE_USED: Record<string, string[]> = {
    '*': ['logs:CreateLogStream', 'logs:PutLogEvents'],
    WriteHistoryLambdaFunction: [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
      'sqs:SendMessage',
    ],
  };
  /**
   * In a function's bundle but never called by that function, each with the reason: a bundle serves
   * several functions, or a module brings a method the function does not use.
   */
  const UNCALLED: Record<string, Record<string, string>> = {
    WriteHistoryLambdaFunction: {
      'dynamodb:UpdateItem': 'retention only: granted, on expiresAt alone, under a policy',
    },
    RollbackLambdaFunction: {
      'dynamodb:UpdateItem': 'VersionedTable.update; rollback writes with put and delete',
    },
    RollbackHttpLambdaFunction: {
      'dynamodb:UpdateItem': 'VersionedTable.update; rollback writes with put and delete',
    },
    PublishDigestLambdaFunction: { 's3:GetObject': 'S3DigestStore.get, for checking; publishing only puts' },
    ListVersionsLambdaFunction: { 'dynamodb:GetItem': 'audit.js serves getVersion and diff too' },
    AsOfLambdaFunction: {
      'dynamodb:GetItem': 'audit.js serves getVersion and diff too',
      'secretsmanager:GetSecretValue': 'audit.js serves listVersions too',
    },
    GetVersionLambdaFunction: { 'secretsmanager:GetSecretValue': 'audit.js serves listVersions too' },
    DiffLambdaFunction: { 'secretsmanager:GetSecretValue': 'audit.js serves listVersions too' },
    ListActivityLambdaFunction: { 'dynamodb:GetItem': 'audit.js serves getVersion and diff too' },
  };

  const called = (name: string, handler: string): Set<string> => {
    const file = `${handler.split('.')[0]}.js`;
    const code = execFileSync('unzip', ['-p', join(work, name, 'dynamo-history.zip'), file], {
      encoding: 'utf8',
    });
    const commands = new Set(code.match(/\b[A-Z][A-Za-z]*Command\b/g) ?? []);
    const unknown = [...commands].filter((c) => !(c in ACTIONS));
    if (unknown.length > 0)
      throw new Error(`${file} calls ${unknown.join(', ')}: add their IAM actions to ACTIONS`);
    return new Set([...commands].flatMap((c) => ACTIONS[c] ?? []));
  };

  it.each([
    ['prod', () => prod],
    ['dev', () => dev],
    ['one', () => one],
    ['two', () => two],
  ])('%s', (name, template) => {
    for (const [fn, resource] of functionsOf(template())) {
      const calls = called(name, resource.Properties.Handler as string);
      const granted = new Set(statementsOf(roleOf(template(), fn).role).flatMap(actions));
      const service = new Set([...(SERVICE_USED['*'] ?? []), ...(SERVICE_USED[fn] ?? [])]);
      const uncalled = UNCALLED[fn] ?? {};
      // No permission its code (or Lambda, for it) does not use.
      expect({ fn, unused: [...granted].filter((a) => !calls.has(a) && !service.has(a)) }).toEqual({
        fn,
        unused: [],
      });
      // Nothing its code calls is missing, but what is known to be uncalled (and, for retention, granted with it).
      const missing = [...calls].filter((a) => !granted.has(a) && !(a in uncalled));
      expect({ fn, missing }).toEqual({ fn, missing: [] });
    }
  });
});
