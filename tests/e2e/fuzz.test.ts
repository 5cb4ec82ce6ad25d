import { writeFileSync } from 'node:fs';
import { DescribeTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { runCli } from '../helpers/cli';
import { waitForHistory } from '../helpers/dynamo';
import { type Stack, startStack } from '../helpers/stack';
import { N, S, streamRecord } from '../helpers/stream-records';
import { random } from '../simulation/model';

/**
 * The security fuzz pass (README, "Threat model"): every entry point of the local stack gets
 * seeded hostile input. Each answer must be a typed error (a 4xx with a code, or an error of
 * the project's hierarchy) or a parked record; never a 5xx, an untyped error, a response over
 * Lambda's 6 MB, or a write. FUZZ_SEED replays another seed; FUZZ_REPORT writes the tally.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const CASES = 120;
const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;
const credentials = { accessKeyId: 'fuzzer', secretAccessKey: 'x' };
const TABLES = ['dynamo-history-dev-latest', 'dynamo-history-dev-history'] as const;
const TYPED = new Set([
  'ValidationError',
  'ItemKeyTooLongError',
  'VersionConflictError',
  'ItemExistsError',
  'ItemNotFoundError',
  'VersionNotFoundError',
  'MalformedRecordError',
  'UnauthenticatedError',
]);

const rng = random(SEED);
const deep = (n: number): unknown => (n === 0 ? 'bottom' : { d: deep(n - 1) });
/** Values that have broken parsers somewhere. */
const HOSTILE: (() => unknown)[] = [
  () => null,
  () => true,
  () => -1,
  () => 0,
  () => 1.5,
  () => 1e21,
  () => 2 ** 53 + 1,
  () => -0,
  () => 'NaN',
  () => '1',
  () => '',
  () => '\u0000',
  () => '<script>alert(1)</script>',
  () => "'; DROP TABLE x; --",
  () => '../../etc/passwd',
  () => '%00%ff',
  () => 'é'.repeat(1500),
  () => '\u001b[31m\u0007',
  () => 'x'.repeat(100_000),
  () => [],
  () => [1, 2],
  () => ({}),
  () => JSON.parse('{"__proto__":{"polluted":1}}'),
  () => ({ constructor: { prototype: { polluted: 1 } } }),
  () => deep(200),
  () => '2026-02-30T00:00:00+00:00',
  () => '9999-99-99',
];
const hostile = () => rng.pick(HOSTILE)();
const hostileText = () => {
  const v = hostile();
  return typeof v === 'string' ? v : JSON.stringify(v);
};

/** One entry point's tally, as the closing note reports it. */
interface Tally {
  cases: number;
  typedErrors: number;
  accepted: number;
  serverErrors: number;
  untyped: number;
  oversized: number;
  /** 4xx answered by the gateway itself (no route, a path it cannot parse): no handler ran. */
  gateway4xx: number;
  /** writeHistory: well-formed records from the trusted stream ARN, recorded (see the threat model). */
  recorded?: number;
}
const tallies: Record<string, Tally> = {};
const untypedSamples: string[] = [];
const tally = (entry: string): Tally => {
  tallies[entry] ??= {
    cases: 0,
    typedErrors: 0,
    accepted: 0,
    serverErrors: 0,
    untyped: 0,
    oversized: 0,
    gateway4xx: 0,
  };
  return tallies[entry];
};

let stack: Stack;
let dynamo: DynamoDBClient;
let lambda: LambdaClient;
let streamArn: string;

/** Item counts and hashes of the latest and history tables: what "nothing written" compares. */
async function state(): Promise<string> {
  const parts: string[] = [];
  for (const TableName of TABLES) {
    let start: Record<string, never> | undefined;
    const rows: string[] = [];
    do {
      const out = await dynamo.send(
        new ScanCommand({ TableName, ExclusiveStartKey: start, ConsistentRead: true }),
      );
      // Items the writeHistory pass targets are compared on their own (see that test).
      for (const item of out.Items ?? [])
        if (!item.itemKey?.S?.startsWith('fz-w-')) rows.push(JSON.stringify(item));
      start = out.LastEvaluatedKey as typeof start;
    } while (start);
    parts.push(rows.sort().join('\n'));
  }
  return parts.join('\n--\n');
}

async function invoke(
  entry: string,
  functionName: string,
  payload: unknown,
  allowed: (body: unknown) => boolean,
) {
  const t = tally(entry);
  t.cases++;
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) ?? 'null' }),
  );
  const bytes = out.Payload?.length ?? 0;
  if (bytes > LAMBDA_RESPONSE_LIMIT) t.oversized++;
  const body = JSON.parse(Buffer.from(out.Payload ?? []).toString() || 'null') as {
    errorType?: string;
  } | null;
  if (out.FunctionError) {
    if (body?.errorType && TYPED.has(body.errorType)) t.typedErrors++;
    else t.untyped++;
  } else if (allowed(body)) t.accepted++;
  else t.untyped++;
}

async function http(entry: string, method: string, path: string, body?: string) {
  const t = tally(entry);
  t.cases++;
  const response = await fetch(`${stack.httpEndpoint}${path}`, {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  if (Buffer.byteLength(text) > LAMBDA_RESPONSE_LIMIT) t.oversized++;
  if (response.status >= 500) t.serverErrors++;
  else if (response.status >= 400) {
    const parsed = JSON.parse(text) as { code?: unknown; error?: unknown };
    if (typeof parsed.code === 'string') t.typedErrors++;
    // serverless-offline's own answer, as API Gateway's own 403/404/414 would be in AWS.
    else if (typeof parsed.error === 'string' && !('code' in parsed)) t.gateway4xx++;
    else {
      t.untyped++;
      untypedSamples.push(
        `${entry} ${method} ${path.slice(0, 200)} → ${response.status} ${text.slice(0, 200)}`,
      );
    }
  } else t.accepted++;
}

beforeAll(async () => {
  stack = await startStack();
  dynamo = new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: 'us-east-1', credentials });
  lambda = new LambdaClient({
    endpoint: stack.lambdaEndpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
  });
  streamArn =
    (await dynamo.send(new DescribeTableCommand({ TableName: TABLES[0] }))).Table?.LatestStreamArn ?? '';
  for (let v = 1; v <= 3; v++)
    await dynamo.send(
      new PutItemCommand({
        TableName: TABLES[0],
        Item: { id: { S: 'fz-1' }, version: { N: String(v) }, note: { S: `v${v}` } },
      }),
    );
  await waitForHistory(dynamo, TABLES[1], 'fz-1', 3);
}, 180_000);

afterAll(async () => {
  if (process.env.FUZZ_REPORT)
    writeFileSync(
      process.env.FUZZ_REPORT,
      `${JSON.stringify({ seed: SEED, tallies, untypedSamples }, null, 2)}\n`,
    );
  lambda?.destroy();
  dynamo?.destroy();
  await stack?.stop();
});

describe(`fuzz pass, seed ${SEED}`, () => {
  let before: string;
  beforeAll(async () => {
    before = await state();
  });

  it('writeHistory: hostile records are parked, only records a real stream could carry are recorded', async () => {
    const fields: ((r: Record<string, unknown>, d: Record<string, unknown>) => void)[] = [
      (r) => {
        r.eventSourceARN = hostile();
      },
      (r) => {
        r.eventID = hostile();
      },
      (r) => {
        r.eventName = hostile();
      },
      (_, d) => {
        d.ApproximateCreationDateTime = hostile();
      },
      (_, d) => {
        d.Keys = hostile();
      },
      (_, d) => {
        d.NewImage = { id: { S: `fz-w-${rng.int(1e9)}` }, x: hostile() };
      },
      (_, d) => {
        d.OldImage = hostile();
      },
      (_, d) => {
        d.SequenceNumber = hostile();
      },
      (r) => {
        r.userIdentity = hostile();
      },
      (_, d) => {
        d.Keys = { id: { S: 'fz-other' } };
      },
    ];
    for (let i = 0; i < CASES; i++) {
      const id = `fz-w-${i}`;
      const record = streamRecord({
        arn: streamArn,
        at: Math.floor(Date.now() / 1000),
        keys: { id: S(id) },
        newImage: { id: S(id), version: N(1) },
      }) as unknown as Record<string, unknown>;
      const dynamodb = record.dynamodb as Record<string, unknown>;
      // One to three hostile fields per record, so that the check each one meets is reached.
      for (let k = 0; k <= rng.int(3); k++) rng.pick(fields)(record, dynamodb);
      await invoke(
        'writeHistory (direct invoke)',
        'dynamo-history-dev-writeHistory',
        { Records: [record] },
        (body) => Array.isArray((body as { batchItemFailures?: unknown[] } | null)?.batchItemFailures),
      );
    }
    const t = tally('writeHistory (direct invoke)');
    expect(t).toMatchObject({ untyped: 0, oversized: 0, serverErrors: 0 });
    // What was recorded is only what passed every check: a record a real stream could carry.
    const recorded = await dynamo.send(
      new ScanCommand({
        TableName: TABLES[1],
        // Records, wherever kept (a chain's first one at the start slot); not a bare chain marker.
        FilterExpression: 'begins_with(itemKey, :p) AND attribute_exists(#h)',
        ExpressionAttributeNames: { '#h': 'hash' },
        ExpressionAttributeValues: { ':p': { S: 'fz-w-' } },
        ConsistentRead: true,
      }),
    );
    t.recorded = recorded.Items?.length ?? 0;
    for (const item of recorded.Items ?? []) {
      expect(item.image?.M?.id?.S).toBe(item.itemKey?.S);
    }
    expect(t.recorded).toBeLessThan(CASES / 4);
  }, 300_000);

  it('rollback (invoke and HTTP): hostile payloads are typed errors or dry runs', async () => {
    const base = () => ({ key: { id: 'fz-1' }, toVersion: 1, dryRun: true }) as Record<string, unknown>;
    const names = ['key', 'toVersion', 'expectedVersion', 'actor', 'reason', 'dryRun', 'extra'];
    for (let i = 0; i < CASES; i++) {
      const payload = base();
      const name = rng.pick(names);
      if (name === 'key') payload.key = rng.next() < 0.5 ? hostile() : { id: hostile() };
      else if (name === 'dryRun') payload.dryRun = rng.pick([null, 'true', 1, 0, [], {}]);
      else payload[name] = hostile();
      await invoke('rollback (direct invoke)', 'dynamo-history-dev-rollback', payload, (body) => {
        const result = body as { dryRun?: unknown } | null;
        return result?.dryRun === true;
      });
      const { key: _key, ...rest } = payload;
      const itemKey = rng.next() < 0.8 ? 'fz-1' : encodeURIComponent(hostileText()).slice(0, 3000);
      await http(
        'rollback (POST /items/{itemKey}/rollback)',
        'POST',
        `/items/${itemKey}/rollback`,
        JSON.stringify(rest),
      );
    }
    for (const entry of ['rollback (direct invoke)', 'rollback (POST /items/{itemKey}/rollback)'])
      expect(tally(entry)).toMatchObject({ untyped: 0, oversized: 0, serverErrors: 0 });
  }, 300_000);

  it('audit routes (HTTP and invoke): hostile keys, versions, cursors and instants are 4xx, never 5xx', async () => {
    const q = (name: string) => `${name}=${encodeURIComponent(hostileText()).slice(0, 4000)}`;
    const routes = [
      () => `/items/fz-1/versions?${q(rng.pick(['limit', 'cursor', 'order', 'from', 'to', 'bogus']))}`,
      () => `/items/${encodeURIComponent(hostileText()).slice(0, 3000)}/versions`,
      () => `/items/fz-1/versions/${encodeURIComponent(hostileText()).slice(0, 100)}`,
      () => `/items/fz-1/as-of?${q('at')}`,
      () => `/items/fz-1/diff?${q('from')}&to=2`,
      () => `/items/fz-1/diff?from=1&${q('to')}`,
    ];
    for (let i = 0; i < CASES; i++) {
      await http('audit (HTTP GET)', 'GET', rng.pick(routes)());
      const fn = rng.pick(['listVersions', 'getVersion', 'asOf', 'diff']);
      const payload: Record<string, unknown> = {
        itemKey: 'fz-1',
        version: 1,
        at: '2026-01-01T00:00:00Z',
        from: 1,
        to: 2,
      };
      payload[rng.pick(Object.keys(payload).concat(['limit', 'cursor', 'extra']))] = hostile();
      await invoke('audit (direct invoke)', `dynamo-history-dev-${fn}`, payload, (body) => body !== null);
    }
    for (const entry of ['audit (HTTP GET)', 'audit (direct invoke)'])
      expect(tally(entry)).toMatchObject({ untyped: 0, oversized: 0, serverErrors: 0 });
  }, 300_000);

  it('CLI: hostile arguments exit 1 or 2 with a message, never a stack trace', async () => {
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    };
    const commands = [
      () => ['show', 'fz-1', hostileText()],
      () => ['versions', hostileText().slice(0, 3000)],
      () => ['as-of', 'fz-1', hostileText()],
      () => ['diff', 'fz-1', '1', hostileText()],
      () => ['rollback', 'fz-1', hostileText(), '--dry-run'],
      () => ['versions', 'fz-1', '--limit', hostileText()],
      () => ['digest', hostileText()],
    ];
    const t = tally('CLI');
    for (let i = 0; i < 14; i++) {
      t.cases++;
      // An argv cannot hold NUL (execve ends a string there): the shell could never pass one.
      const args = rng
        .pick(commands)()
        .map((a) => a.replaceAll('\u0000', ''));
      const result = await runCli(args, env);
      if (result.code === 0) t.accepted++;
      else if ((result.code === 1 || result.code === 2) && !/\n\s+at .+:\d+:\d+/.test(result.stderr))
        t.typedErrors++;
      else {
        t.untyped++;
        untypedSamples.push(
          `CLI ${JSON.stringify(args).slice(0, 200)} → ${result.code} ${result.stderr.slice(0, 300)}`,
        );
      }
    }
    expect(t.untyped).toBe(0);
  }, 300_000);

  it('wrote nothing to the latest table or to history', async () => {
    expect(await state()).toBe(before);
  });
});
