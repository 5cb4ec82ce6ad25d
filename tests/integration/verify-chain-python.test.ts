import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { TableSet } from '../../local/tables';
import type { HistoryConfig } from '../../shared/core/config';
import type { AttributeMap } from '../../shared/core/types';
import { toWireMap } from '../../shared/core/wire';
import { createTestTables, readPartition, testClient, waitForHistory } from '../helpers/dynamo';
import { startPipeline } from '../helpers/pipeline';

const ROOT = resolve(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'cli', 'verify-chain.py');
const client = testClient();
afterAll(() => client.destroy());

/** The partition as `aws dynamodb query` prints it: DynamoDB JSON, binary as base64. */
async function cliJson(table: string, itemKey: string): Promise<{ Items: unknown[] }> {
  const items = await readPartition(client, table, itemKey);
  return { Items: items.map((i) => toWireMap(i)) };
}

function runScript(items: { Items: unknown[] }): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'verify-chain-'));
  const file = join(dir, 'history.json');
  writeFileSync(file, JSON.stringify(items));
  const run = spawnSync('python3', [SCRIPT, file], { encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('an auditor recomputes a chain with Python and its standard library alone', () => {
  let tables: TableSet;
  let config: HistoryConfig;

  beforeAll(async () => {
    ({ tables, config } = await createTestTables(client));
    const pipeline = await startPipeline(client, config);
    const image = (n: number): AttributeMap => ({
      id: { S: 'py-1' },
      version: { N: String(n) },
      'naïve ключ': { S: 'ünïcödé, "quotes", \\ backslash, \n newline, \u0001 control' },
      '😀': { S: 'an emoji name, which sorts by UTF-16 code units' },
      '\uffff': { S: 'after the emoji in UTF-16 order, before it in code points' },
      tags: { SS: ['b', 'a', 'é'] },
      amounts: { NS: ['10', '2', '-1.5'] },
      blobs: { BS: [new Uint8Array([255]), new Uint8Array([0, 1])] },
      raw: { B: new Uint8Array([0, 255, 7]) },
      nested: {
        M: { list: { L: [{ N: '1' }, { NULL: true }, { BOOL: false }] }, big: { N: `${'9'.repeat(38)}` } },
      },
      n: { N: String(n * 1.5) },
    });
    for (let v = 1; v <= 3; v++)
      await client.send(new PutItemCommand({ TableName: tables.latest, Item: image(v) }));
    await waitForHistory(client, tables.history, 'py-1', 3);
    await pipeline.stop();
  }, 60_000);

  it('finds every record of an intact chain matching its hash and link', async () => {
    const { status, output } = runScript(await cliJson(tables.history, 'py-1'));
    expect(output).toContain('3 record(s), 0 problem(s)');
    expect(status).toBe(0);
  });

  it('names an edited record', async () => {
    const items = await cliJson(tables.history, 'py-1');
    const v2 = items.Items.find((i) => (i as { version: { S: string } }).version.S === 'v0002') as {
      actor?: { S: string };
    };
    v2.actor = { S: 'mallory' };
    const { status, output } = runScript(items);
    expect(output).toContain('v0002: content does not match its hash');
    expect(status).toBe(1);
  });

  it('is the script the README shows', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /### Verifying history yourself[\s\S]*?```python\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(readFileSync(SCRIPT, 'utf8'));
  });
});
