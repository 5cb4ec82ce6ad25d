import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { type CliResult, runCli } from '../helpers/cli';
import { type Stack, startStack } from '../helpers/stack';

// Issue 11, as a new user would try it with clients the project did not write: boto3 makes an Orders
// table (composite key, number sort key) and a Customers table and fills them; `dynamo-history init`
// attaches both to the npm start stack; after a restart, backfill and live writes land in each table's
// own history, read back through the CLI and HTTP; as-of tells apart instants seconds apart.
const data = mkdtempSync(join(tmpdir(), 'dh-attach-'));
const settingsFile = join(data, 'dev.json');
const stackEnv = { DYNAMO_HISTORY_CONFIG: settingsFile };
let stack: Stack;

const env = () => ({
  ...stackEnv,
  AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoEndpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
});
const cli = (...args: string[]): Promise<CliResult> => runCli(args, env());

/** Runs a boto3 script against the stack's DynamoDB Local; `db` is its client. */
function boto3(script: string): string {
  const prelude = `import boto3, time\ndb = boto3.client('dynamodb', endpoint_url='${stack.dynamoEndpoint}', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='y')\n`;
  return execFileSync('python3', ['-c', prelude + script], { encoding: 'utf8' });
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const versionsOf = async (table: string, itemKey: string) => {
  const out = await cli('versions', itemKey, '--table', table, '--json');
  return out.code === 0
    ? (JSON.parse(out.stdout).items as { version: number; source: string; image?: unknown }[])
    : [];
};

beforeAll(async () => {
  stack = await startStack(stackEnv, 180_000, ['--data-dir', data]);
}, 200_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(data, { recursive: true, force: true });
});

it('refuses tables it cannot record, naming the table and the fix, and writes no settings', async () => {
  boto3(`
db.create_table(TableName='Orders', BillingMode='PAY_PER_REQUEST',
  KeySchema=[{'AttributeName':'pk','KeyType':'HASH'},{'AttributeName':'sk','KeyType':'RANGE'}],
  AttributeDefinitions=[{'AttributeName':'pk','AttributeType':'S'},{'AttributeName':'sk','AttributeType':'N'}],
  StreamSpecification={'StreamEnabled':True,'StreamViewType':'NEW_AND_OLD_IMAGES'})
db.create_table(TableName='Customers', BillingMode='PAY_PER_REQUEST',
  KeySchema=[{'AttributeName':'id','KeyType':'HASH'}], AttributeDefinitions=[{'AttributeName':'id','AttributeType':'S'}])
db.create_table(TableName='KeysOnly', BillingMode='PAY_PER_REQUEST',
  KeySchema=[{'AttributeName':'id','KeyType':'HASH'}], AttributeDefinitions=[{'AttributeName':'id','AttributeType':'S'}],
  StreamSpecification={'StreamEnabled':True,'StreamViewType':'KEYS_ONLY'})
for i in range(20):
  db.put_item(TableName='Orders', Item={'pk':{'S':'USER#1'},'sk':{'N':str(i)},'total':{'N':str(10*i)}})
# An item whose key encodes exactly like the Orders item (USER#1, 1): the histories must not collide.
db.put_item(TableName='Customers', Item={'id':{'S':'USER%231|1'},'name':{'S':'Ada'}})
`);
  const noStream = await cli('init', '--table', 'Orders', '--table', 'Customers');
  expect(noStream.code).toBe(2);
  expect(noStream.stderr).toContain('table Customers has no stream');
  expect(noStream.stderr).toContain(
    `fix: aws dynamodb update-table --table-name Customers --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES --region us-east-1 --endpoint-url ${stack.dynamoEndpoint}`,
  );
  const view = await cli('init', '--table', 'KeysOnly');
  expect(view.code).toBe(2);
  expect(view.stderr).toContain('the stream of KeysOnly is KEYS_ONLY; history needs NEW_AND_OLD_IMAGES');
  const missing = await cli('init', '--table', 'Nope');
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(`table Nope does not exist at ${stack.dynamoEndpoint}`);
  expect(existsSync(settingsFile)).toBe(false);
  // It never turned a stream on by itself.
  expect(
    boto3(`print(db.describe_table(TableName='Customers')['Table'].get('StreamSpecification'))`).trim(),
  ).toBe('None');
}, 60_000);

it('attaches two existing tables, then records each one’s backfill and live changes in its own history', async () => {
  // The user runs the fix the error printed.
  boto3(
    `db.update_table(TableName='Customers', StreamSpecification={'StreamEnabled':True,'StreamViewType':'NEW_AND_OLD_IMAGES'})`,
  );
  const init = await cli('init', '--table', 'Orders', '--table', 'Customers');
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  expect(init.stdout).toContain('restart npm start to record the attached tables');
  const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));
  expect(settings.tables.map((t: { name: string; key: string }) => [t.name, t.key])).toEqual([
    ['Orders', 'pk:S,sk:N'],
    ['Customers', 'id:S'],
  ]);

  await stack.stop();
  stack = await startStack(stackEnv, 180_000, ['--data-dir', data]);
  expect(stack.output()).toContain(
    'tables: Orders (key pk:S,sk:N, attached), dynamo-history-dev-Orders-history',
  );
  expect(stack.output()).toContain(
    'tables: Customers (key id:S, attached), dynamo-history-dev-Customers-history',
  );

  // Orders' stream still held its 20 puts (TRIM_HORIZON, as in AWS): they are recorded, and backfill skips them.
  await until(
    () => versionsOf('Orders', 'USER%231|19'),
    (v) => v.length === 1,
    'the Orders stream',
  );
  const orders = await cli('backfill', '--table', 'Orders', '--json');
  expect(JSON.parse(orders.stdout)).toMatchObject({ scanned: 20, written: 0, skipped: 20 });
  // Customers' put came before its stream: only backfill can record it.
  const customers = await cli('backfill', '--table', 'Customers', '--json');
  expect(JSON.parse(customers.stdout)).toMatchObject({ scanned: 1, written: 1 });

  // Live writes, two of them seconds apart on one item.
  boto3(`
db.update_item(TableName='Orders', Key={'pk':{'S':'USER#1'},'sk':{'N':'1'}}, UpdateExpression='SET #t = :t', ExpressionAttributeNames={'#t':'total'}, ExpressionAttributeValues={':t':{'N':'111'}})
time.sleep(2.2)
db.update_item(TableName='Orders', Key={'pk':{'S':'USER#1'},'sk':{'N':'1'}}, UpdateExpression='SET #t = :t', ExpressionAttributeNames={'#t':'total'}, ExpressionAttributeValues={':t':{'N':'222'}})
db.put_item(TableName='Customers', Item={'id':{'S':'USER%231|1'},'name':{'S':'Ada L.'}})
`);
  const order = await until(
    () => versionsOf('Orders', 'USER%231|1'),
    (v) => v.length === 3,
    'the Orders updates',
  );
  expect(order.map((v) => [v.version, v.source, (v.image as { total: number }).total])).toEqual([
    [1, 'legacy', 10],
    [2, 'legacy', 111],
    [3, 'legacy', 222],
  ]);
  const customer = await until(
    () => versionsOf('Customers', 'USER%231|1'),
    (v) => v.length === 2,
    'the Customers put',
  );
  expect(customer.map((v) => [v.version, v.source, (v.image as { name: string }).name])).toEqual([
    [1, 'backfill', 'Ada'],
    [2, 'legacy', 'Ada L.'],
  ]);

  // HTTP addresses the table in the path; the one-table routes ask which table.
  const http = await fetch(
    `${stack.httpEndpoint}/tables/Orders/items/USER%25231%7C1/versions?order=desc&limit=1`,
  );
  expect(http.status).toBe(200);
  expect(((await http.json()) as { items: { version: number }[] }).items.map((i) => i.version)).toEqual([3]);
  const unnamed = await fetch(`${stack.httpEndpoint}/items/USER%25231%7C1/versions`);
  expect(unnamed.status).toBe(400);
  expect(((await unnamed.json()) as { code: string }).code).toBe('table.required');
  const unknown = await fetch(`${stack.httpEndpoint}/tables/Invoices/items/x/versions`);
  expect(unknown.status).toBe(404);
  expect(((await unknown.json()) as { code: string }).code).toBe('table.notFound');

  // As-of, at instants between the two updates (AWS's one-second dating, locally too).
  const [, second = 0, third = 0] = order.map((v) =>
    Date.parse((v as unknown as { recordedAt: string }).recordedAt),
  );
  const asOf = async (ms: number) => {
    const res = await fetch(
      `${stack.httpEndpoint}/tables/Orders/items/USER%25231%7C1/as-of?at=${new Date(ms).toISOString()}`,
    );
    return ((await res.json()) as { version: number }).version;
  };
  expect(third - second).toBeGreaterThanOrEqual(2000);
  expect(await asOf(second + 500)).toBe(2);
  expect(await asOf(third - 500)).toBe(2);
  expect(await asOf(third + 500)).toBe(3);

  // A rollback through the table's own version check, labelled and recorded in that table's history only.
  const rollback = await cli('rollback', 'USER%231|1', '1', '--table', 'Customers', '--reason', 'typo');
  expect(rollback.stdout).toContain('restored USER%231|1 v1 as v3');
  const rolled = await until(
    () => versionsOf('Customers', 'USER%231|1'),
    (v) => v.length === 3,
    'the rollback',
  );
  expect(rolled[2]?.source).toBe('rollback');
  expect(await versionsOf('Orders', 'USER%231|1')).toHaveLength(3);

  const verify = await cli('verify', '--json');
  expect(verify.code).toBe(0);
  const reports = JSON.parse(verify.stdout).tables as { table: string; items: number; findings: unknown[] }[];
  expect(reports.map((r) => [r.table, r.items, r.findings.length])).toEqual([
    ['Orders', 20, 0],
    ['Customers', 1, 0],
  ]);
}, 300_000);

it('lets the console pick either attached table and find an item by its typed, composite key', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(stack.consoleUrl);
    const picker = page.getByLabel('Table');
    // The page renders after it has asked the console for the tables: wait for the picker, then read it.
    await picker.waitFor();
    await expect(picker.locator('option').allInnerTexts()).resolves.toEqual(['Orders', 'Customers']);
    await picker.selectOption('Orders');
    await page.waitForURL(/table=Orders/);
    // One field per key attribute, typed: pk a string, sk a number (spelled canonically for history).
    await page.getByLabel('pk').fill('USER#1');
    await page.getByLabel('sk').fill('1.0');
    await page.getByRole('button', { name: 'Open history' }).click();
    await page.waitForURL(/item=USER%25231%7C1&view=timeline/);
    const rows = page.locator('table.timeline tbody tr');
    await rows.first().waitFor();
    await expect(
      rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-version'))),
    ).resolves.toEqual(['3', '2', '1']);
    // The same item key in Customers is another item, with its own history (and its rollback).
    await page.goto(
      `${stack.consoleUrl}?table=Customers&item=${encodeURIComponent('USER%231|1')}&view=timeline`,
    );
    await rows.first().waitFor();
    await expect(rows.first().innerText()).resolves.toMatch(/rollback\s+restored v1/);
    await expect(rows.count()).resolves.toBe(3);
    // A number that is not one is refused on the page, with the server's reason.
    await page.goto(`${stack.consoleUrl}?table=Orders`);
    await page.getByLabel('pk').fill('USER#1');
    await page.getByLabel('sk').fill('one');
    await page.getByRole('button', { name: 'Open history' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(
      /^400 validation: "one" is not a number/,
    );
  } finally {
    await browser.close();
  }
}, 120_000);

it('refuses to attach a table whose key no longer matches its history, and leaves the settings as they were', async () => {
  const before = readFileSync(settingsFile, 'utf8');
  boto3(`
db.delete_table(TableName='Customers')
db.get_waiter('table_not_exists').wait(TableName='Customers')
db.create_table(TableName='Customers', BillingMode='PAY_PER_REQUEST',
  KeySchema=[{'AttributeName':'pk','KeyType':'HASH'},{'AttributeName':'sk','KeyType':'RANGE'}],
  AttributeDefinitions=[{'AttributeName':'pk','AttributeType':'S'},{'AttributeName':'sk','AttributeType':'S'}],
  StreamSpecification={'StreamEnabled':True,'StreamViewType':'NEW_AND_OLD_IMAGES'})
`);
  const again = await cli('init', '--table', 'Customers');
  expect(again.code).toBe(2);
  expect(again.stderr).toContain('attaches Customers keyed id:S, but the table is now keyed pk:S,sk:S');
  expect(readFileSync(settingsFile, 'utf8')).toBe(before);
  // A fresh settings file for the same stage still finds the old history and refuses.
  const fresh = join(data, 'fresh.json');
  const other = await runCli(['init', '--table', 'Customers'], { ...env(), DYNAMO_HISTORY_CONFIG: fresh });
  expect(other.code).toBe(2);
  expect(other.stderr).toContain(
    'dynamo-history-dev-Customers-history already holds history whose item keys',
  );
  expect(existsSync(fresh)).toBe(false);
}, 60_000);
