import { existsSync, mkdirSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type Browser, chromium, type Page } from 'playwright-core';
import { loadConfig } from '../../shared/core/config';
import { VersionedTable } from '../../shared/writing';
import { eventually, readHistory } from '../helpers/dynamo';
import { seedHistory } from '../helpers/history';
import { ROOT } from '../helpers/readme';
import { type Stack, startStack } from '../helpers/stack';

/**
 * The audit console, in Debian's Chromium, against the whole `npm start` stack: an auditor's
 * walk (find, timeline, version, diff, as-of, blame, integrity, activity), an operator's
 * rollback (dry run, confirm, and one that loses a race with a live writer), 10,000 versions
 * on one item, an item made of HTML and script, and the CSRF and DNS-rebinding defences.
 * With README_UPDATE=1 it also writes the README's screenshots (docs/console/).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'docs', 'console');
const LATEST = 'dynamo-history-dev-latest';
const HISTORY = 'dynamo-history-dev-history';
const XSS_KEY = '<script>window.__pwned=1</script>';

let stack: Stack;
let dynamo: DynamoDBClient;
let browser: Browser;
let page: Page;
let table: VersionedTable;
const dialogs: string[] = [];
const pageErrors: string[] = [];

const url = (query: string) => `${stack.consoleUrl}${query}`;
const shot = async (name: string) => {
  if (process.env.README_UPDATE !== '1') return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
};
const waitVersions = (itemKey: string, count: number) =>
  eventually(async () => {
    const records = await readHistory(dynamo, HISTORY, itemKey);
    return records.length >= count ? records : undefined;
  }, 30_000);

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM_PATH); .ci/run installs it`,
    );
  stack = await startStack();
  dynamo = new DynamoDBClient({
    endpoint: stack.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'console', secretAccessKey: 'x' },
  });
  table = new VersionedTable({
    client: dynamo,
    tableName: LATEST,
    keySchema: [{ name: 'id', type: 'S' }],
    attributes: loadConfig({}).attributes,
  });
  // An auditor's item: created, edited twice, deleted, re-created; a second apart, as the stream dates changes.
  const pause = () => new Promise((r) => setTimeout(r, 1100));
  await table.create(
    { id: 'order-1', status: 'new', address: { city: 'Paris', zip: '75001' }, items: [{ sku: 'A', qty: 1 }] },
    { actor: 'alice' },
  );
  await pause();
  await table.update({ id: 'order-1' }, 1, { status: 'paid' }, { actor: 'bob' });
  await pause();
  await table.update(
    { id: 'order-1' },
    2,
    { address: { city: 'Lyon', zip: '69001' }, items: [{ sku: 'A', qty: 3 }] },
    { actor: 'bob' },
  );
  await pause();
  await table.remove({ id: 'order-1' }, 3);
  await pause();
  await table.create({ id: 'order-1', status: 'new again' }, { actor: 'carol' });
  // Every type, faithfully: a number past double precision, a string set, binary.
  await dynamo.send(
    new PutItemCommand({
      TableName: LATEST,
      Item: {
        id: { S: 'types-1' },
        version: { N: '1' },
        big: { N: '123456789012345678901234567890.5' },
        tags: { SS: ['red', 'blue'] },
        blob: { B: new Uint8Array([0, 1, 2, 255]) },
      },
    }),
  );
  // An item made of HTML and script.
  await dynamo.send(
    new PutItemCommand({
      TableName: LATEST,
      Item: {
        id: { S: XSS_KEY },
        version: { N: '1' },
        note: { S: '<img src=x onerror="window.__pwned=2">' },
        homepage: { S: 'javascript:window.__pwned=3' },
        '<b onmouseover=alert(1)>': { S: '</dd><script>window.__pwned=4</script>' },
      },
    }),
  );
  // 10,000 versions on one item, through the real record builder.
  await seedHistory(dynamo, loadConfig({}), 'deep', 10_000, Date.parse('2026-01-01T00:00:00Z'));
  // An item whose oldest versions retention expired (TTL deleted v1–v3; v4 is the retained anchor).
  await seedHistory(dynamo, loadConfig({}), 'retained', 6, Date.parse('2026-02-01T00:00:00Z'));
  for (const v of ['v0001', 'v0002', 'v0003'])
    await dynamo.send(
      new DeleteItemCommand({ TableName: HISTORY, Key: { itemKey: { S: 'retained' }, version: { S: v } } }),
    );
  await waitVersions('order-1', 5);
  await waitVersions('types-1', 1);
  await waitVersions(XSS_KEY, 1);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
}, 300_000);

afterAll(async () => {
  await browser?.close();
  dynamo?.destroy();
  await stack?.stop();
});

afterEach(() => {
  // No view may throw in the page, and nothing ever opens a dialog (an alert would be injected script).
  expect(pageErrors).toEqual([]);
  expect(dialogs).toEqual([]);
});

const rowsOf = (selector: string) => page.locator(`${selector} tbody tr`);

describe('audit console in Chromium', () => {
  it('is served by npm start, which prints its URL', () => {
    expect(stack.output()).toContain(`console: ${stack.consoleUrl}`);
  });

  it('finds an item by its key attributes, with the keyboard alone', async () => {
    await page.goto(url(''));
    await page.getByLabel('id').focus();
    await page.keyboard.type('order-1');
    await shot('find');
    await page.keyboard.press('Enter');
    await page.waitForURL(/item=order-1&view=timeline/);
    await rowsOf('table.timeline').first().waitFor();
    await expect(rowsOf('table.timeline').count()).resolves.toBe(5);
  });

  it('shows the timeline with the tombstone and the re-creation marked', async () => {
    await page.goto(url('?item=order-1&view=timeline'));
    const rows = rowsOf('table.timeline');
    await rows.first().waitFor();
    const versions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-version')));
    expect(versions).toEqual(['5', '4', '3', '2', '1']);
    await expect(page.locator('tr.tombstone').getAttribute('data-version')).resolves.toBe('4');
    await expect(page.locator('tr.tombstone').innerText()).resolves.toContain('deleted');
    await expect(rows.first().innerText()).resolves.toMatch(/INSERT\s+legacy\s+carol/);
  });

  it('marks the stretch that retention expired', async () => {
    await page.goto(url('?item=retained&view=timeline'));
    await rowsOf('table.timeline').first().waitFor();
    await expect(page.locator('tr.expired').innerText()).resolves.toBe(
      'v1–v3: expired under the retention policy (the chain starts at a retained anchor)',
    );
    await expect(page.locator('tr[data-version]').count()).resolves.toBe(3);
  });

  it('pages through 10,000 versions without loading them all', async () => {
    await page.goto(url('?item=deep&view=timeline'));
    const rows = rowsOf('table.timeline');
    await rows.first().waitFor();
    await expect(rows.count()).resolves.toBe(50);
    await expect(rows.first().getAttribute('data-version')).resolves.toBe('10000');
    for (let i = 0; i < 3; i++) {
      await page.getByRole('link', { name: 'Older →' }).click();
      await page.waitForURL(/c=/);
      await expect(rows.first().getAttribute('data-version')).resolves.toBe(String(10_000 - 50 * (i + 1)));
    }
    await expect(rows.count()).resolves.toBe(50);
    // The page URL carries the cursor: a shared link opens the same page.
    const shared = page.url();
    await page.goto(shared);
    await expect(rowsOf('table.timeline').first().getAttribute('data-version')).resolves.toBe('9850');
  });

  it('shows a version as a typed tree: big numbers, sets and binary as they are', async () => {
    await page.goto(url('?item=types-1&view=version&v=1'));
    const tree = page.locator('details.map').first();
    await tree.waitFor();
    const text = await tree.innerText();
    expect(text).toContain('123456789012345678901234567890.5');
    expect(text).toMatch(/SS\s+set of 2/);
    expect(text).toContain('AAEC/w== (4 bytes, base64)');
    await expect(page.locator('dl.meta').innerText()).resolves.toMatch(/hash\s+[0-9a-f]{64}/);
    await page.goto(url('?item=order-1&view=version&v=3'));
    await page.locator('details.map').first().waitFor();
    await shot('version');
  });

  it('diffs two versions picked on the timeline, with nested paths highlighted', async () => {
    await page.goto(url('?item=order-1&view=timeline'));
    await page.getByLabel('select v1 to diff').check();
    await page.getByLabel('select v3 to diff').check();
    await page.getByRole('button', { name: 'Diff the two selected' }).click();
    await page.waitForURL(/view=diff&from=1&to=3/);
    const changed = page.locator('tr.diff-changed');
    await changed.first().waitFor();
    const paths = await changed.locator('td:first-child code').allInnerTexts();
    expect(paths).toEqual(expect.arrayContaining(['address.city', 'address.zip', 'items[0].qty', 'status']));
    await expect(
      page.locator('tr.diff-changed', { hasText: 'items[0].qty' }).locator('td.after').innerText(),
    ).resolves.toBe('3');
    await shot('diff');
  });

  it('answers as-of: the version in force, "did not exist", and a bad instant', async () => {
    const records = await readHistory(dynamo, HISTORY, 'order-1');
    const deleted = records.find((r) => r.op === 'REMOVE');
    const second = records[1];
    await page.goto(
      url(
        `?item=order-1&view=asof&at=${encodeURIComponent(new Date(Date.parse(second?.recordedAt ?? '') + 999).toISOString())}`,
      ),
    );
    await expect(page.locator('p.answer').innerText()).resolves.toMatch(/version in force was v2/);
    await page.goto(
      url(
        `?item=order-1&view=asof&at=${encodeURIComponent(new Date(Date.parse(deleted?.recordedAt ?? '') + 999).toISOString())}`,
      ),
    );
    await expect(page.locator('p.answer').innerText()).resolves.toMatch(
      /did not exist: it was deleted at v4/,
    );
    await page.goto(url('?item=order-1&view=asof&at=2000-01-01T00:00:00Z'));
    await expect(page.locator('p.answer').innerText()).resolves.toMatch(
      /did not exist: its first version came later/,
    );
    await page.goto(url('?item=order-1&view=asof&at=last%20tuesday'));
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(/^400 validation: .*ISO-8601/);
  });

  it('says plainly what is unknown or malformed, with a 4xx and never a stack trace', async () => {
    for (const [query, text] of [
      ['?item=nobody&view=timeline', /^404 item\.notFound: Item nobody not found/],
      ['?item=order-1&view=version&v=99', /^404 version\.notFound: Item order-1 has no version 99/],
      [`?item=${'x'.repeat(3000)}&view=timeline`, /^400 validation: itemKey must be/],
      ['?item=order-1&view=diff&from=1&to=abc', /^400 validation: to must be a positive integer/],
    ] as const) {
      await page.goto(url(query));
      const alert = await page.getByRole('alert').innerText();
      expect(alert).toMatch(text);
      expect(alert).not.toMatch(/at .*\.ts:\d+/);
    }
    await page.goto(url(''));
    await page.getByLabel('id').fill('');
  });

  it('blames each attribute of the current image on the version that set it', async () => {
    await page.goto(url('?item=order-1&view=timeline'));
    await page.goto(url('?item=types-1&view=blame'));
    const rows = rowsOf('table.blame');
    await rows.first().waitFor();
    const text = await rows.allInnerTexts();
    expect(text.map((t) => t.split(/\s+/)[0])).toEqual(['big', 'blob', 'tags']);
    expect(text[0]).toMatch(/v1 \(created\)/);
  });

  it('checks the item’s chain, and computes the table digest on demand', async () => {
    await page.goto(url('?item=order-1&view=integrity'));
    await expect(page.locator('p.ok').innerText()).resolves.toMatch(
      /OK: 5 record\(s\) verified, no findings/,
    );
    await page.getByRole('button', { name: 'Compute the table digest' }).click();
    await expect(page.locator('#digest').innerText()).resolves.toMatch(/^[0-9a-f]{64}$/);
    await shot('integrity');
  });

  it('names the findings of an edited chain', async () => {
    // Someone edits v1 of types-1 in place, as a person with write access to history could.
    const [first] = await readHistory(dynamo, HISTORY, 'types-1');
    const stored = { ...(first?.stored ?? {}) };
    stored.image = { M: { ...(stored.image?.M ?? {}), big: { N: '1' } } };
    await dynamo.send(new PutItemCommand({ TableName: HISTORY, Item: stored }));
    await page.goto(url('?item=types-1&view=integrity'));
    await expect(page.locator('p.bad').innerText()).resolves.toMatch(/finding\(s\) in 1 record\(s\)/);
    const kinds = await page.locator('table.findings tbody td:nth-child(2)').allInnerTexts();
    expect(kinds).toContain('hash.mismatch');
    await dynamo.send(new PutItemCommand({ TableName: HISTORY, Item: first?.stored ?? {} }));
    await page.goto(url('?item=types-1&view=integrity'));
    await expect(page.locator('p.ok').innerText()).resolves.toMatch(/OK: 1 record\(s\) verified/);
  });

  it('rolls back through a dry run and a confirmation, recorded as a rollback', async () => {
    await page.goto(url('?item=order-1&view=version&v=3'));
    await page.getByRole('link', { name: 'Roll back to v3…' }).click();
    await page.waitForURL(/view=rollback&v=3/);
    await page.getByLabel('Reason').fill('undo the re-creation');
    await page.getByRole('button', { name: 'Preview (dry run)' }).click();
    await expect(page.locator('p.preview').innerText()).resolves.toBe(
      'Would restore v3 as v6; the item is at version 1 now. The image written would be:',
    );
    const image = JSON.parse(await page.locator('pre.image').innerText());
    expect(image).toMatchObject({ id: 'order-1', status: 'paid', address: { city: 'Lyon' }, version: 6 });
    // The dry run wrote nothing.
    const before = await dynamo.send(
      new GetItemCommand({ TableName: LATEST, Key: { id: { S: 'order-1' } } }),
    );
    // The re-created item counts its own versions from 1 again; history numbers it v5 (legacy).
    expect(before.Item?.version).toEqual({ N: '1' });
    await shot('rollback-preview');
    await page.getByRole('button', { name: 'Confirm: write v6' }).click();
    await expect(page.locator('.rollback-result p.ok').innerText()).resolves.toMatch(/^Restored v3 as v6/);
    const records = await waitVersions('order-1', 6);
    expect(records[5]).toMatchObject({ source: 'rollback', restoredFrom: 3, reason: 'undo the re-creation' });
    await page.goto(url('?item=order-1&view=timeline'));
    await expect(rowsOf('table.timeline').first().innerText()).resolves.toMatch(/rollback\s+restored v3/);
    await shot('timeline');
  });

  it('refuses a rollback that lost the race with a live writer, and writes nothing', async () => {
    await page.goto(url('?item=order-1&view=rollback&v=1'));
    await page.getByRole('button', { name: 'Preview (dry run)' }).click();
    await expect(page.locator('p.preview').innerText()).resolves.toMatch(
      /Would restore v1 as v7; the item is at version 6 now/,
    );
    // A live writer gets there first.
    await table.update({ id: 'order-1' }, 6, { status: 'shipped' }, { actor: 'dave' });
    await page.getByRole('button', { name: 'Confirm: write v7' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(/^409 version\.conflict: /);
    await expect(page.locator('.rollback-result').innerText()).resolves.toContain('Nothing was written.');
    await shot('rollback-conflict');
    const now = await dynamo.send(new GetItemCommand({ TableName: LATEST, Key: { id: { S: 'order-1' } } }));
    expect(now.Item).toMatchObject({
      version: { N: '7' },
      status: { S: 'shipped' },
      modifiedBy: { S: 'dave' },
    });
  });

  it('lists table-wide activity in a time window', async () => {
    const records = await waitVersions('order-1', 7);
    const from = new Date(Date.parse(records[0]?.recordedAt ?? '') - 1000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    await page.goto(url(`?view=activity&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`));
    const rows = rowsOf('table.activity');
    await rows.first().waitFor();
    const text = await rows.allInnerTexts();
    // Newest first: the live writer's change, then the rollback; the seeded 2026-01 history is outside.
    expect(text[0]).toMatch(/order-1\s+v7\s+MODIFY\s+app\s+dave/);
    expect(text[1]).toMatch(/order-1\s+v6\s+MODIFY\s+rollback/);
    expect(text.some((t) => t.includes('deep'))).toBe(false);
    expect(text.filter((t) => t.includes('order-1'))).toHaveLength(7);
    await shot('activity');
  });

  it('shows an item of HTML and script as text, and runs none of it', async () => {
    const item = encodeURIComponent(XSS_KEY);
    for (const view of ['timeline', 'version&v=1', 'blame', 'integrity']) {
      await page.goto(url(`?item=${item}&view=${view}`));
      await page.locator('.panel > *').first().waitFor();
    }
    await page.goto(url(`?item=${item}&view=version&v=1`));
    const tree = page.locator('details.map').first();
    await tree.waitFor();
    const text = await tree.innerText();
    expect(text).toContain('"<img src=x onerror=\\"window.__pwned=2\\">"');
    expect(text).toContain('"javascript:window.__pwned=3"');
    expect(text).toContain('<b onmouseover=alert(1)>');
    await expect(page.locator('h1.item code').innerText()).resolves.toBe(XSS_KEY);
    // Nothing ran, no element came from the data, and no link has a script scheme.
    await expect(page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).resolves.toBeUndefined();
    await expect(page.locator('img, b, main script').count()).resolves.toBe(0);
    const hrefs = await page.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    expect(hrefs.every((h) => h.startsWith('?') || h === '/' || h === '#main')).toBe(true);
    await shot('untrusted-content');
  });

  it('refuses a rollback from another origin (CSRF), a foreign Host (DNS rebinding) and a missing token', async () => {
    const before = await dynamo.send(
      new GetItemCommand({ TableName: LATEST, Key: { id: { S: 'order-1' } } }),
    );
    const { port } = new URL(stack.consoleUrl);
    // A hostile page on another origin posts a rollback with no-cors, as a real attack would.
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<script>
        fetch('http://127.0.0.1:${port}/api/rollback', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ item: 'order-1', toVersion: 1 }) }).then(() => { document.title = 'sent'; }, () => { document.title = 'sent'; });
      </script>`);
    });
    await new Promise<void>((done) => evil.listen(0, '127.0.0.1', done));
    const evilPage = await browser.newPage();
    await evilPage.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    await evilPage.waitForFunction(
      () => (globalThis as unknown as { document: { title: string } }).document.title === 'sent',
    );
    await evilPage.close();
    evil.close();

    const raw = (path: string, headers: Record<string, string>, method = 'GET', body?: string) =>
      new Promise<{ status: number; body: string }>((done, fail) => {
        const req = request({ host: '127.0.0.1', port: Number(port), path, method, headers }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', fail);
        req.end(body);
      });
    const html = await raw('/', {});
    const token = /name="console-token" content="([^"]+)"/.exec(html.body)?.[1] ?? '';
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const post = (headers: Record<string, string>) =>
      raw(
        '/api/rollback',
        { 'content-type': 'application/json', ...headers },
        'POST',
        JSON.stringify({ item: 'order-1', toVersion: 1 }),
      );
    // A rebound name: the right port, a foreign Host.
    expect((await raw('/', { host: `attacker.example:${port}` })).status).toBe(403);
    expect(
      (await raw('/api/tables', { host: `attacker.example:${port}`, 'x-console-token': token })).status,
    ).toBe(403);
    // No token, a wrong one, a foreign Origin, no Origin on a POST, a GET where a POST belongs.
    expect(JSON.parse((await post({ origin: `http://127.0.0.1:${port}` })).body).code).toBe('console.token');
    expect(
      (await post({ origin: `http://127.0.0.1:${port}`, 'x-console-token': 'x'.repeat(43) })).status,
    ).toBe(403);
    expect(
      JSON.parse((await post({ origin: 'http://evil.example', 'x-console-token': token })).body).code,
    ).toBe('console.origin');
    expect(JSON.parse((await post({ 'x-console-token': token })).body).code).toBe('console.origin');
    expect((await raw('/api/rollback', { 'x-console-token': token })).status).toBe(405);
    // A malformed rollback from the console itself: a clear 400, nothing written.
    const bad = await raw(
      '/api/rollback',
      { 'content-type': 'application/json', origin: `http://127.0.0.1:${port}`, 'x-console-token': token },
      'POST',
      JSON.stringify({ item: 'order-1', toVersion: 'v1' }),
    );
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/toVersion/);
    const after = await dynamo.send(new GetItemCommand({ TableName: LATEST, Key: { id: { S: 'order-1' } } }));
    expect(after.Item).toEqual(before.Item);
    // Every answer carries the CSP that runs only the page's own script.
    const csp = await new Promise<string>((done) =>
      request({ host: '127.0.0.1', port: Number(port), path: '/' }, (res) => {
        res.resume();
        done(String(res.headers['content-security-policy']));
      }).end(),
    );
    expect(csp).toContain("script-src 'self'");
  });
});
