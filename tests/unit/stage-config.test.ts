import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resources } from '../../resources/tables.js';
import { loadConfig, loadConfigs } from '../../shared/core/config';
import { ConfigurationError, UnknownTableError } from '../../shared/core/errors';
import { deploymentSettings, recordedTablesEnv, StageConfigError } from '../../shared/core/stage-config.js';

type Table = {
  Properties: {
    GlobalSecondaryIndexes?: { IndexName: string }[];
    AttributeDefinitions: { AttributeName: string }[];
  };
};

const dir = mkdtempSync(join(tmpdir(), 'dh-stage-'));
const ARN = (table: string) =>
  `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}/stream/2026-12-01T00:00:00.000`;

function file(content: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
const settings = (content: unknown, env: NodeJS.ProcessEnv = {}) =>
  deploymentSettings({ stage: 'prod', env: { DYNAMO_HISTORY_CONFIG: file(content), ...env } });

describe('the stage file', () => {
  it('gives each attached table its own history and failures tables, and a RECORDED_TABLES the code reads back', () => {
    const s = settings({
      tables: [
        { name: 'Orders', key: 'pk:S,sk:N', streamArn: ARN('Orders') },
        { name: 'app.customers', key: 'id', streamArn: ARN('app.customers'), versionAttribute: 'rev' },
      ],
      retentionDays: 365,
    });
    expect(s.mode).toBe('attached');
    expect(s.tables.map((t) => [t.latest, t.history, t.failures])).toEqual([
      ['Orders', 'dynamo-history-prod-Orders-history', 'dynamo-history-prod-Orders-failures'],
      [
        'app.customers',
        'dynamo-history-prod-app.customers-history',
        'dynamo-history-prod-app.customers-failures',
      ],
    ]);
    expect(s.tables.map((t) => t.id)).toEqual(['Orders', expect.stringMatching(/^appcustomers[0-9a-f]{6}$/)]);
    const configs = loadConfigs({ RECORDED_TABLES: recordedTablesEnv(s), HISTORY_RETENTION_DAYS: '365' });
    expect(configs.map((c) => [c.latestTableName, c.keySchema, c.attributes.version, c.streamArn])).toEqual([
      [
        'Orders',
        [
          { name: 'pk', type: 'S' },
          { name: 'sk', type: 'N' },
        ],
        'version',
        ARN('Orders'),
      ],
      ['app.customers', [{ name: 'id', type: 'S' }], 'rev', ARN('app.customers')],
    ]);
  });

  it('governs over the shell: a variable that says otherwise is refused, naming it and the file', () => {
    const content = { keyAttributes: 'pk,sk', retentionDays: 30 };
    expect(settings(content, { HISTORY_RETENTION_DAYS: '30', KEY_ATTRIBUTES: 'pk,sk' }).retention.days).toBe(
      '30',
    );
    expect(() => settings(content, { HISTORY_RETENTION_DAYS: '90' })).toThrow(
      /HISTORY_RETENTION_DAYS=90 .* governs/,
    );
    expect(() => settings(content, { KEY_ATTRIBUTES: 'id' })).toThrow(/KEY_ATTRIBUTES=id/);
    expect(() => settings(content, { HISTORY_KEEP_VERSIONS: '5' })).toThrow(/HISTORY_KEEP_VERSIONS/);
  });

  it('is required for a deployed stage, and names the command that writes it', () => {
    expect(() =>
      deploymentSettings({
        stage: 'prod',
        env: { DYNAMO_HISTORY_CONFIG: join(dir, 'none.json') },
        requireFile: true,
      }),
    ).toThrow(/dynamo-history init --stage prod/);
    // Without a file the dev stage takes the variables, as before.
    expect(
      deploymentSettings({
        stage: 'dev',
        env: { KEY_ATTRIBUTES: 'pk,sk', DYNAMO_HISTORY_CONFIG: join(dir, 'none.json') },
      }),
    ).toMatchObject({ mode: 'created', keyAttributes: 'pk,sk', file: undefined });
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{', /not valid JSON/],
    ['an unknown field', { retention: 3 }, /unknown field\(s\) retention/],
    ['an empty table list', { tables: [] }, /non-empty list/],
    ['a bad table name', { tables: [{ name: 'a b', key: 'id', streamArn: ARN('ab') }] }, /tables\[0\]\.name/],
    [
      'a table twice',
      {
        tables: [
          { name: 'Tab', key: 'id', streamArn: ARN('Tab') },
          { name: 'Tab', key: 'id', streamArn: ARN('Tab') },
        ],
      },
      /listed twice/,
    ],
    [
      'a stream of another table',
      { tables: [{ name: 'Orders', key: 'id', streamArn: ARN('Other') }] },
      /not a stream of table Orders/,
    ],
    [
      'a bad key',
      { tables: [{ name: 'Orders', key: 'pk:X', streamArn: ARN('Orders') }] },
      /tables\[0\]\.key/,
    ],
    [
      'keyAttributes beside tables',
      { keyAttributes: 'id', tables: [{ name: 'Orders', key: 'id', streamArn: ARN('Orders') }] },
      /keyAttributes is for the created table/,
    ],
    ['a bad retention', { retentionDays: 0 }, /retentionDays must be an integer/],
    ['a bad e-mail', { alarmEmail: 'ops' }, /alarmEmail/],
  ])('refuses %s', (_case, content, message) => {
    expect(() => settings(content)).toThrow(StageConfigError);
    expect(() => settings(content)).toThrow(message);
  });

  it('turns the activity index off only when the file says false, and refuses anything but a boolean', () => {
    expect(settings({}).activityIndex).toBe(true);
    expect(settings({ activityIndex: false }).activityIndex).toBe(false);
    expect(() => settings({ activityIndex: 'no' })).toThrow(/activityIndex must be true or false/);
    const withIndex = (resources({}) as Record<string, unknown>).HistoryTable as Table;
    const without = (resources({ activityIndex: false }) as Record<string, unknown>).HistoryTable as Table;
    expect(withIndex.Properties.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['byActivity']);
    expect(without.Properties.GlobalSecondaryIndexes).toBeUndefined();
    // DynamoDB refuses an attribute definition that no key or index uses.
    expect(without.Properties.AttributeDefinitions.map((a) => a.AttributeName)).toEqual([
      'itemKey',
      'version',
      'timeKey',
    ]);
  });

  it('refuses more tables than the Lambda environment can carry', () => {
    const tables = Array.from({ length: 12 }, (_, i) => ({
      name: `table-${i}`,
      key: 'pk,sk',
      streamArn: ARN(`table-${i}`),
    }));
    expect(() => settings({ tables })).toThrow(/4 KB environment/);
  });
});

describe('loadConfig with several tables', () => {
  const env = {
    RECORDED_TABLES: JSON.stringify([
      { latest: 'Orders', history: 'hist1', failures: 'fail1', key: 'pk,sk:N', stream: ARN('Orders') },
      { latest: 'Customers', history: 'hist2', failures: 'fail2', key: 'id', stream: ARN('Customers') },
    ]),
  };

  it('picks the table named, and asks for one when there are several', () => {
    expect(loadConfig(env, 'Customers').historyTableName).toBe('hist2');
    expect(() => loadConfig(env)).toThrow(expect.objectContaining({ code: 'table.required' }));
    expect(() => loadConfig(env, 'Nope')).toThrow(UnknownTableError);
    expect(() => loadConfig(env, 'Nope')).toThrow(/recorded: Orders, Customers/);
  });

  it.each<[string, string]>([
    ['not JSON', '[{'],
    ['an empty list', '[]'],
    [
      'an unknown field',
      JSON.stringify([
        { latest: 'Orders', history: 'hist', failures: 'fail', key: 'id', stream: ARN('Orders'), x: 1 },
      ]),
    ],
    [
      'a shared history table',
      JSON.stringify([
        { latest: 'Orders', history: 'hist', failures: 'fail1', key: 'id', stream: ARN('Orders') },
        { latest: 'Other', history: 'hist', failures: 'fail2', key: 'id', stream: ARN('Other') },
      ]),
    ],
  ])('refuses RECORDED_TABLES with %s', (_case, value) => {
    expect(() => loadConfigs({ RECORDED_TABLES: value })).toThrow(ConfigurationError);
  });
});

describe('the functions’ environment (resources/deployment.js)', () => {
  const { environment } = require('../../resources/deployment.js') as {
    environment: (c: { resolveVariable: (e: string) => Promise<string> }) => Promise<Record<string, string>>;
  };
  const resolveVariable = async (expression: string) =>
    expression === 'self:service' ? 'dynamo-history' : 'dev';
  const withEnv = async (env: Record<string, string>) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return await environment({ resolveVariable });
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  };

  it('takes the created table’s attribute names from the variables without a stage file, and from the file with one', async () => {
    const none = join(dir, 'none.json');
    expect(
      await withEnv({ DYNAMO_HISTORY_CONFIG: none, VERSION_ATTRIBUTE: 'rev', ACTOR_ATTRIBUTE: 'who' }),
    ).toMatchObject({
      VERSION_ATTRIBUTE: 'rev',
      ACTOR_ATTRIBUTE: 'who',
      KEY_ATTRIBUTES: 'id',
    });
    const path = file({ keyAttributes: 'pk,sk', versionAttribute: 'rev' });
    expect(await withEnv({ DYNAMO_HISTORY_CONFIG: path })).toMatchObject({
      VERSION_ATTRIBUTE: 'rev',
      ACTOR_ATTRIBUTE: 'modifiedBy',
      KEY_ATTRIBUTES: 'pk,sk',
    });
  });
});
