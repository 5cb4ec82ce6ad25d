import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readHistory, testClient, testEndpoint, waitForHistory } from '../helpers/dynamo';
import { recordedTables } from '../helpers/pipeline';

// The README's writer-library example, run as it is printed (issue 11: it must run, not rot).
const ROOT = resolve(__dirname, '..', '..');
const client = testClient();
afterAll(() => client.destroy());

it('runs the README’s library example and records each of its writes', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Writer library'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toContain("from './shared/writing'");
  const { tables, config, pipeline } = await recordedTables(client);
  const dir = join(ROOT, '.cache', `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'example.ts');
  writeFileSync(file, (code ?? '').replace("from './shared/writing'", "from '../../shared/writing'"));
  try {
    execFileSync(process.execPath, ['--import', 'tsx', file], {
      cwd: ROOT,
      env: {
        ...process.env,
        LATEST_TABLE_NAME: config.latestTableName,
        HISTORY_TABLE_NAME: config.historyTableName,
        FAILURES_TABLE_NAME: config.failuresTableName,
        AWS_ENDPOINT_URL_DYNAMODB: testEndpoint(),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: 'pipe',
    });
    await waitForHistory(client, tables.history, 'order-1', 5);
    const records = await readHistory(client, tables.history, 'order-1');
    expect(records.map((r) => [r.versionNumber, r.op, r.source])).toEqual([
      [1, 'INSERT', 'app'],
      [2, 'MODIFY', 'app'],
      [3, 'MODIFY', 'app'],
      [4, 'MODIFY', 'app'],
      [5, 'REMOVE', 'app'],
    ]);
    expect(records[3]?.image?.total).toEqual({ N: '11' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pipeline.stop();
  }
}, 60_000);
