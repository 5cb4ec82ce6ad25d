import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { mapLimit } from '../../shared/core/concurrency';
import { createTestTables, testClient } from '../helpers/dynamo';
import { seedHistory } from '../helpers/history';

// verify streams item by item (README, "Verify"): a history table twice the size of the heap
// it is given is verified whole, because only one chain per worker is held at a time.
const client = testClient();
const ROOT = resolve(__dirname, '..', '..');
const ITEMS = 240;
const BLOB_BYTES = 200 * 1024;
const HEAP_MB = 48;

afterAll(() => client.destroy());

it(`verifies ${ITEMS * 2} records of ${BLOB_BYTES / 1024} KB (≈ ${Math.round((ITEMS * 2 * BLOB_BYTES) / 2 ** 20)} MB) within a ${HEAP_MB} MB heap`, async () => {
  const { tables, config } = await createTestTables(client);
  await mapLimit(
    Array.from({ length: ITEMS }, (_, i) => i),
    8,
    (i) =>
      seedHistory(client, config, `m-${i}`, 2, Date.parse('2026-11-01T00:00:00Z'), undefined, () => ({
        // Text, not binary: strings live on the V8 heap that --max-old-space-size caps (buffers do not).
        blob: { S: randomBytes((BLOB_BYTES * 3) / 4).toString('base64') },
      })),
  );
  const script = `
    const { Verifier } = require('./shared/integrity/verify');
    const { loadConfig } = require('./shared/core/config');
    const { createDynamoClient } = require('./shared/aws/clients');
    const config = loadConfig(process.env);
    new Verifier({ client: createDynamoClient(), config }).verifyAll().then((r) => {
      const kinds = [...new Set(r.findings.map((f) => f.kind))];
      process.stdout.write(JSON.stringify({ items: r.items, records: r.records, kinds, heapMB: process.memoryUsage().heapUsed / 2 ** 20 }));
    });`;
  const child = spawnSync(
    process.execPath,
    [`--max-old-space-size=${HEAP_MB}`, '--require', 'tsx/cjs', '-e', script],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        LATEST_TABLE_NAME: tables.latest,
        HISTORY_TABLE_NAME: tables.history,
        FAILURES_TABLE_NAME: tables.failures,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        AWS_ENDPOINT_URL_DYNAMODB: process.env.DYNAMODB_TEST_ENDPOINT,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      },
      encoding: 'utf8',
      timeout: 240_000,
    },
  );
  expect(child.stderr).not.toMatch(/heap out of memory/);
  const result = JSON.parse(child.stdout) as { items: number; records: number; kinds: string[] };
  expect(result).toMatchObject({ items: ITEMS, records: ITEMS * 2 });
  // The items exist only in history (the latest table is empty): deletions not recorded, nothing else.
  expect(result.kinds).toEqual(['latest.deleteNotRecorded']);
}, 300_000);
