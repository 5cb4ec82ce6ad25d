import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type ConsoleServer, startConsole } from '../../cli/console/server';
import type { HistoryConfig } from '../../shared/core/config';
import { createTestTables, testClient } from '../helpers/dynamo';
import { seedHistory } from '../helpers/history';

/**
 * The console's server on DynamoDB Local without a browser: two recorded tables (one with a
 * composite key of a string and a number), the key helper, table selection, and the
 * request checks. The browser walk is tests/e2e/console.test.ts.
 */
const client = testClient();
let orders: HistoryConfig;
let ledger: HistoryConfig;
let server: ConsoleServer;
let token = '';

beforeAll(async () => {
  ({ config: orders } = await createTestTables(client));
  ({ config: ledger } = await createTestTables(client, 'pk,sk:N'));
  await seedHistory(client, orders, 'order-1', 3, Date.parse('2026-04-01T00:00:00Z'));
  server = await startConsole({
    client,
    configs: [orders, ledger],
    labelled: (c) => c,
    actor: 'tester',
    port: 0,
  });
  const html = await (await fetch(server.url)).text();
  token = /name="console-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
}, 60_000);
afterAll(async () => {
  await server?.close();
  client.destroy();
});

const api = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${server.url}api/${path}`, {
    ...init,
    headers: { 'x-console-token': token, ...(init.headers ?? {}) },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('console server', () => {
  it('lists the recorded tables with their keys', async () => {
    const { status, body } = await api('tables');
    expect(status).toBe(200);
    expect(body.tables).toEqual([
      expect.objectContaining({ name: orders.latestTableName, key: [{ name: 'id', type: 'S' }] }),
      expect.objectContaining({
        name: ledger.latestTableName,
        key: [
          { name: 'pk', type: 'S' },
          { name: 'sk', type: 'N' },
        ],
      }),
    ]);
  });

  it('spells a composite, numeric key canonically, and refuses a malformed one', async () => {
    const table = encodeURIComponent(ledger.latestTableName);
    const ok = await api(`key?table=${table}&k.pk=${encodeURIComponent('TENANT#1')}&k.sk=1.50`);
    expect(ok.body).toEqual({ itemKey: 'TENANT%231|1.5' });
    const bad = await api(`key?table=${table}&k.pk=a&k.sk=one`);
    expect(bad).toMatchObject({ status: 400, body: { code: 'validation' } });
    const missing = await api(`key?table=${table}&k.pk=a`);
    expect(missing.body.message).toMatch(/"sk" \(N\) is required/);
  });

  it('reads the table it is asked for, and asks which one when there are several', async () => {
    const table = encodeURIComponent(orders.latestTableName);
    const page = await api(`versions?table=${table}&item=order-1`);
    expect((page.body.items as { version: number; typedImage: unknown }[]).map((r) => r.version)).toEqual([
      3, 2, 1,
    ]);
    // The timeline carries metadata only; a version carries its typed image.
    expect((page.body.items as { typedImage: unknown }[])[0]?.typedImage).toBeNull();
    const one = await api(`version?table=${table}&item=order-1&v=2`);
    expect(one.body.typedImage).toMatchObject({ counter: { N: '20' } });
    expect(await api('versions?item=order-1')).toMatchObject({
      status: 400,
      body: { code: 'table.required' },
    });
    expect(await api('versions?table=nope&item=order-1')).toMatchObject({
      status: 404,
      body: { code: 'table.notFound' },
    });
    // The other table's history is its own: the same item key is unknown there.
    const other = await api(`versions?table=${encodeURIComponent(ledger.latestTableName)}&item=order-1`);
    expect(other.status).toBe(400);
  });

  it('answers a rollback with the label key missing as a plain 503, writing nothing', async () => {
    await client.send(
      new PutItemCommand({
        TableName: orders.latestTableName,
        Item: { id: { S: 'order-1' }, version: { N: '3' } },
      }),
    );
    const { labelKey: _none, ...unlabelled } = orders;
    const bare = await startConsole({
      client,
      configs: [unlabelled],
      labelled: (c) => c,
      actor: 't',
      port: 0,
    });
    const html = await (await fetch(bare.url)).text();
    const t = /name="console-token" content="([^"]+)"/.exec(html)?.[1] ?? '';
    const response = await fetch(`${bare.url}api/rollback`, {
      method: 'POST',
      headers: {
        'x-console-token': t,
        'content-type': 'application/json',
        origin: bare.url.replace(/\/$/, ''),
      },
      body: JSON.stringify({ item: 'order-1', toVersion: 1 }),
    });
    await bare.close();
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(/label key/);
    const after = await client.send(
      new GetItemCommand({ TableName: orders.latestTableName, Key: { id: { S: 'order-1' } } }),
    );
    expect(after.Item).toEqual({ id: { S: 'order-1' }, version: { N: '3' } });
  });

  it('refuses unknown calls, wrong methods, oversized and non-JSON bodies', async () => {
    expect(await api('drop-table')).toMatchObject({ status: 404, body: { code: 'console.notFound' } });
    expect((await api('tables', { method: 'POST' })).status).toBe(405);
    const origin = server.url.replace(/\/$/, '');
    const post = (body: string, type = 'application/json') =>
      api('rollback', { method: 'POST', headers: { 'content-type': type, origin }, body });
    expect((await post('{"item":')).body.code).toBe('console.json');
    expect((await post('{}', 'text/plain')).status).toBe(415);
    expect((await post(JSON.stringify({ item: 'order-1', pad: 'x'.repeat(20_000) }))).status).toBe(413);
    expect((await post('[1]')).status).toBe(400);
    // A page, its assets, and nothing else.
    expect((await fetch(`${server.url}assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${server.url}etc/passwd`)).status).toBe(404);
  });
});
