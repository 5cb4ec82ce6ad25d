import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import {
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { preserveProtoAttributes } from '../../shared/aws/sdk-proto-fix';
import { loadConfig } from '../../shared/core/config';
import type { HistoryRecord } from '../../shared/core/types';
import { HistoryReader } from '../../shared/reading/audit';
import { chainProblems } from '../helpers/chain';
import { runCli } from '../helpers/cli';
import { readHistory, waitForHistory } from '../helpers/dynamo';
import { type Stack, startStack } from '../helpers/stack';
import { N, type RecordSpec, S, streamRecord } from '../helpers/stream-records';

// DynamoDB Local accepts only letters and digits in an access key id.
const credentials = { accessKeyId: 'someoneElse', secretAccessKey: 'x' };
const HISTORY = 'dynamo-history-dev-history';
const LATEST = 'dynamo-history-dev-latest';

/** An item's history, read with any client (the shared reader: paged, consistent, marker left out). */
const history = (client: DynamoDBClient, itemKey: string): Promise<HistoryRecord[]> =>
  readHistory(client, HISTORY, itemKey);

const waitFor = (client: DynamoDBClient, itemKey: string, count: number) =>
  waitForHistory(client, HISTORY, itemKey, count);

const portOpen = (url: string) =>
  new Promise<boolean>((done) => {
    const { hostname, port } = new URL(url);
    const socket = createConnection(Number(port), hostname, () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });

describe('npm start stack (DynamoDB Local + serverless-offline + local event source mapping)', () => {
  let stack: Stack;
  let dynamo: DynamoDBClient;
  let streamArn: string;
  /** A record as the stack's own stream would carry it: its ARN, dated now. */
  const trusted = (spec: RecordSpec) =>
    streamRecord({ arn: streamArn, at: Math.floor(Date.now() / 1000), ...spec });

  beforeAll(async () => {
    stack = await startStack();
    // Other credentials than the stack's: -sharedDb makes the same tables visible to any client.
    dynamo = new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: 'eu-west-1', credentials });
    const described = await dynamo.send(new DescribeTableCommand({ TableName: LATEST }));
    streamArn = described.Table?.LatestStreamArn ?? '';
  }, 180_000);

  afterAll(async () => {
    dynamo?.destroy();
    await stack?.stop();
  });

  it('records plain SDK writes (not our library) in history within seconds', async () => {
    await dynamo.send(
      new PutItemCommand({
        TableName: LATEST,
        Item: { id: { S: 'plain-1' }, status: { S: 'new' }, version: { N: '1' } },
        ConditionExpression: 'attribute_not_exists(id)',
      }),
    );
    await dynamo.send(
      new UpdateItemCommand({
        TableName: LATEST,
        Key: { id: { S: 'plain-1' } },
        UpdateExpression: 'SET #s = :s, version = version + :one',
        ConditionExpression: 'version = :v',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':s': { S: 'paid' }, ':one': { N: '1' }, ':v': { N: '1' } },
      }),
    );
    await dynamo.send(
      new UpdateItemCommand({
        TableName: LATEST,
        Key: { id: { S: 'plain-1' } },
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': { S: 'no version' } },
      }),
    );
    await dynamo.send(new DeleteItemCommand({ TableName: LATEST, Key: { id: { S: 'plain-1' } } }));

    const records = await waitFor(dynamo, 'plain-1', 4);
    expect(records.map((r) => [r.version, r.op, r.source])).toEqual([
      ['v0001', 'INSERT', 'app'],
      ['v0002', 'MODIFY', 'app'],
      ['v0003', 'MODIFY', 'legacy'],
      ['v0004', 'REMOVE', 'app'],
    ]);
    expect(records[1]?.image?.status).toEqual({ S: 'paid' });
    expect(chainProblems(records)).toEqual([]);
  });

  it('records attributes named __proto__ and constructor, and the shard keeps flowing after them (#12)', async () => {
    // As boto3 sends them: JSON names, nothing special.
    const odd = JSON.parse(
      '{"id":{"S":"proto-1"},"version":{"N":"1"},"__proto__":{"S":"kept"},"constructor":{"S":"c"}}',
    );
    await dynamo.send(new PutItemCommand({ TableName: LATEST, Item: odd }));
    await dynamo.send(
      new PutItemCommand({ TableName: LATEST, Item: { id: { S: 'after-proto' }, version: { N: '1' } } }),
    );
    // Both are in one batch, recorded item by item in parallel: wait for each.
    await waitFor(dynamo, 'after-proto', 1);
    await waitFor(dynamo, 'proto-1', 1);
    // Read back with the project's client, which works around the SDK's loss of a top-level `__proto__`.
    const reader = preserveProtoAttributes(
      new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: 'eu-west-1', credentials }),
    );
    try {
      const [record] = await history(reader, 'proto-1');
      expect(Object.keys(record?.image ?? {}).sort()).toEqual(['__proto__', 'constructor', 'id', 'version']);
      expect(Object.getOwnPropertyDescriptor(record?.image ?? {}, '__proto__')?.value).toEqual({ S: 'kept' });
    } finally {
      reader.destroy();
    }
  });

  it('answers a direct invoke of writeHistory on the Lambda port, skipping duplicates and parking malformed records', async () => {
    const lambda = new LambdaClient({ endpoint: stack.lambdaEndpoint, region: 'us-east-1', credentials });
    const first = trusted({
      keys: { id: S('synthetic') },
      newImage: { id: S('synthetic'), version: N(1) },
    });
    const malformed = trusted({
      keys: { id: S('synthetic-bad') },
      newImage: { id: S('synthetic-bad'), x: { N: 'abc' } },
    });
    const event = { Records: [first, malformed, first] };
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'dynamo-history-dev-writeHistory', Payload: JSON.stringify(event) }),
    );
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(out.Payload ?? []).toString())).toEqual({ batchItemFailures: [] });
    expect((await history(dynamo, 'synthetic')).map((r) => r.version)).toEqual(['v0001']);
    expect(await history(dynamo, 'synthetic-bad')).toEqual([]);
    lambda.destroy();
  });

  describe('rollback on the Lambda port, audit over HTTP, the CLI', () => {
    let lambda: LambdaClient;
    let cliEnv: Record<string, string>;
    const invoke = async (payload: unknown) => {
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: 'dynamo-history-dev-rollback', Payload: JSON.stringify(payload) }),
      );
      const body = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>;
      return { functionError: out.FunctionError, body };
    };
    const get = async (path: string) => {
      const response = await fetch(`${stack.httpEndpoint}${path}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const write = (id: string, version: number, status: string) =>
      dynamo.send(
        new PutItemCommand({
          TableName: LATEST,
          Item: {
            id: { S: id },
            version: { N: String(version) },
            status: { S: status },
            address: { M: { city: { S: `c${version}` } } },
          },
        }),
      );
    /** Everything a malformed request must leave untouched. */
    const snapshot = async (id: string) => ({
      latest: (
        await dynamo.send(
          new GetItemCommand({ TableName: LATEST, Key: { id: { S: id } }, ConsistentRead: true }),
        )
      ).Item,
      history: (await history(dynamo, id)).map((r) => r.hash),
    });

    beforeAll(async () => {
      lambda = new LambdaClient({
        endpoint: stack.lambdaEndpoint,
        region: 'us-east-1',
        credentials,
        maxAttempts: 1,
      });
      cliEnv = {
        AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoEndpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      };
      for (let v = 1; v <= 3; v++) await write('audit-1', v, ['new', 'paid', 'shipped'][v - 1] as string);
      await waitFor(dynamo, 'audit-1', 3);
    });
    afterAll(() => lambda?.destroy());

    it('rolls back through @aws-sdk/client-lambda and records a labelled new version', async () => {
      const { functionError, body } = await invoke({
        key: { id: 'audit-1' },
        toVersion: 1,
        expectedVersion: 3,
        actor: 'alice',
        reason: 'undo',
      });
      expect(functionError).toBeUndefined();
      expect(body).toMatchObject({
        key: { id: 'audit-1' },
        restoredVersion: 1,
        previousVersion: 3,
        newVersion: 4,
        dryRun: false,
      });
      expect(body.image).toMatchObject({ status: 'new', version: 4, modifiedBy: 'alice' });
      const records = await waitFor(dynamo, 'audit-1', 4);
      expect(records[3]).toMatchObject({
        source: 'rollback',
        restoredFrom: 1,
        actor: 'alice',
        reason: 'undo',
      });
    });

    it('answers table-wide activity over HTTP, on the Lambda port and in the CLI alike', async () => {
      const records = await history(dynamo, 'audit-1');
      const from = new Date(Date.parse(records[0]?.recordedAt ?? '') - 1000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const http = await get(
        `/activity?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&limit=1000`,
      );
      expect(http.status).toBe(200);
      const mine = (items: unknown) =>
        (items as { itemKey: string; version: number }[])
          .filter((e) => e.itemKey === 'audit-1')
          .map((e) => e.version);
      expect(mine(http.body.items)).toEqual(records.map((r) => r.versionNumber));
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: 'dynamo-history-dev-listActivity',
          Payload: JSON.stringify({ from, to, limit: 1000, order: 'desc' }),
        }),
      );
      const invoked = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as { items: unknown };
      expect(mine(invoked.items)).toEqual(records.map((r) => r.versionNumber).reverse());
      const cli = await runCli(['activity', '--from', from, '--to', to, '--all', '--json'], cliEnv);
      expect(cli.code).toBe(0);
      expect(mine((JSON.parse(cli.stdout) as { items: unknown }).items)).toEqual(
        records.map((r) => r.versionNumber),
      );
      // A bad window is a 400 with the reason, over HTTP as elsewhere.
      const bad = await get(`/activity?from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`);
      expect(bad.status).toBe(400);
      expect(String(bad.body.message)).toMatch(/must be before/);
      expect((await get('/activity?from=x&to=y&colour=red')).body.code).toBe('validation');
    });

    const post = async (path: string, body: string) => {
      const response = await fetch(`${stack.httpEndpoint}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    it('rolls back over HTTP (IAM auth), taking the actor from the authenticated caller', async () => {
      await write('http-rb', 1, 'new');
      await write('http-rb', 2, 'paid');
      await waitFor(dynamo, 'http-rb', 2);
      const { status, body } = await post(
        '/items/http-rb/rollback',
        JSON.stringify({ toVersion: 1, expectedVersion: 2, reason: 'ticket 9' }),
      );
      expect(status).toBe(200);
      expect(body).toMatchObject({ restoredVersion: 1, previousVersion: 2, newVersion: 3, dryRun: false });
      const [, , rolled] = await waitFor(dynamo, 'http-rb', 3);
      // serverless-offline stands in for API Gateway's IAM authentication with its own placeholder identity.
      expect(rolled).toMatchObject({
        source: 'rollback',
        restoredFrom: 1,
        reason: 'ticket 9',
        actorSource: 'caller',
      });
      expect(rolled?.actor).toBe('offlineContext_userArn');
    });

    it.each<[string, number, string, string]>([
      ['a body that is not JSON', 400, 'validation', '{"toVersion":'],
      ['an actor in the body (the caller is the actor)', 400, 'validation', '{"toVersion":1,"actor":"cfo"}'],
      ['a key in the body (the path names the item)', 400, 'validation', '{"toVersion":1,"key":{"id":"x"}}'],
      ['a text version', 400, 'validation', '{"toVersion":"1"}'],
      ['an unknown field', 400, 'validation', '{"toVersion":1,"force":true}'],
      ['an unknown version', 404, 'version.notFound', '{"toVersion":42}'],
      ['a stale expectedVersion', 409, 'version.conflict', '{"toVersion":1,"expectedVersion":1}'],
    ])('answers a rollback POST with %s by %i %s, writing nothing', async (_case, status, code, body) => {
      const before = await snapshot('http-rb');
      const response = await post('/items/http-rb/rollback', body);
      expect(response.status).toBe(status);
      expect(response.body.code).toBe(code);
      expect(await snapshot('http-rb')).toEqual(before);
    });

    it('publishes a signed digest on the Lambda port that the CLI checks against history', async () => {
      const out = await lambda.send(
        new InvokeCommand({ FunctionName: 'dynamo-history-dev-publishDigest', Payload: '{}' }),
      );
      expect(out.FunctionError).toBeUndefined();
      const result = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as {
        stored: string;
        items: number;
      };
      expect(result.items).toBeGreaterThan(0);
      const name = result.stored.split('/').at(-1) as string;
      const checked = await runCli(
        [
          'digest',
          'check',
          '--public-key',
          '.dynamodb/digest-key.pem.pub',
          '--store',
          '.dynamodb/digests',
          '--name',
          name,
        ],
        cliEnv,
      );
      expect(checked.stdout).toMatch(
        new RegExp(
          `digest ${name} \\(taken .*\\): ${result.items} chain head\\(s\\) checked, 0 expired, 0 finding\\(s\\)`,
        ),
      );
      expect(checked.code).toBe(0);
    });

    it.each<[string, string, unknown]>([
      [
        'a stale expectedVersion',
        'VersionConflictError',
        { key: { id: 'audit-1' }, toVersion: 1, expectedVersion: 2 },
      ],
      ['an unknown version', 'VersionNotFoundError', { key: { id: 'audit-1' }, toVersion: 42 }],
      ['an unknown item', 'ItemNotFoundError', { key: { id: 'nobody' }, toVersion: 1 }],
      ['a malformed payload', 'ValidationError', { key: { id: 'audit-1' }, toVersion: '1' }],
    ])('reports %s as errorType %s', async (_case, errorType, payload) => {
      const { functionError, body } = await invoke(payload);
      expect(functionError).toBe('Unhandled');
      expect(body.errorType).toBe(errorType);
      expect(typeof body.errorMessage).toBe('string');
    });

    it('takes versions as every output writes them (v2, v0002), and says when as-of falls in the stream’s time step', async () => {
      const plain = await runCli(['show', 'audit-1', '2', '--json'], cliEnv);
      for (const spelling of ['v2', 'v0002']) {
        const shown = await runCli(['show', 'audit-1', spelling, '--json'], cliEnv);
        expect(shown.stdout).toBe(plain.stdout);
      }
      // History is dated to the second (the local mapping re-dates DynamoDB Local's minutes), so an instant
      // in the same second as a change is the one as-of cannot settle, and says so.
      const newest = JSON.parse((await runCli(['show', 'audit-1', '1', '--json'], cliEnv)).stdout) as {
        recordedAt: string;
      };
      const within = new Date(Date.parse(newest.recordedAt) + 500).toISOString();
      const asOf = await runCli(['as-of', 'audit-1', within], cliEnv);
      expect(asOf.code).toBe(0);
      expect(asOf.stdout).toMatch(/note: v\d+ was recorded at .*, in the same second as/);
      const http = await get(`/items/audit-1/as-of?at=${encodeURIComponent(within)}`);
      expect(http.body.uncertain).toMatch(/in the same second as/);
    });

    it('addresses a key holding a slash by its URL-encoded form, on every route', async () => {
      await write('a/b', 1, 'slashed');
      await waitFor(dynamo, 'a/b', 1);
      const list = await get('/items/a%2Fb/versions');
      expect(list).toMatchObject({ status: 200, body: { itemKey: 'a/b', items: [{ version: 1 }] } });
      expect(await get('/items/a%2Fb/versions/1')).toMatchObject({ status: 200, body: { itemKey: 'a/b' } });
    });

    it('dates history to the second, as AWS does, so as-of tells apart changes seconds apart', async () => {
      await write('seconds-1', 1, 'first');
      await new Promise((r) => setTimeout(r, 3_000));
      await write('seconds-1', 2, 'second');
      const [first, second] = await waitFor(dynamo, 'seconds-1', 2);
      const gap = Date.parse(second?.recordedAt ?? '') - Date.parse(first?.recordedAt ?? '');
      expect(gap).toBeGreaterThanOrEqual(2_000);
      expect(gap).toBeLessThanOrEqual(5_000);
      const between = new Date(Date.parse(first?.recordedAt ?? '') + 1_500).toISOString();
      const answer = await get(`/items/seconds-1/as-of?at=${encodeURIComponent(between)}`);
      expect(answer).toMatchObject({ status: 200, body: { version: 1, image: { status: 'first' } } });
      expect(answer.body.uncertain).toBeUndefined();
    });

    it('refuses a list cursor signed with a key derived from public names (the stack has its own secret)', async () => {
      const guessed = new HistoryReader({ client: dynamo, config: loadConfig({}) });
      const page = await guessed.listVersions('audit-1', { limit: 1 });
      expect(page.cursor).toBeDefined();
      const forged = await get(
        `/items/audit-1/versions?limit=1&cursor=${encodeURIComponent(String(page.cursor))}`,
      );
      expect(forged).toMatchObject({ status: 400, body: { code: 'validation' } });
    });

    it('answers every audit route over HTTP', async () => {
      const list = await get('/items/audit-1/versions?limit=2');
      expect(list.status).toBe(200);
      expect((list.body.items as { version: number }[]).map((r) => r.version)).toEqual([1, 2]);
      const next = await get(
        `/items/audit-1/versions?limit=2&cursor=${encodeURIComponent(String(list.body.cursor))}`,
      );
      expect((next.body.items as { version: number }[]).map((r) => r.version)).toEqual([3, 4]);
      const desc = await get('/items/audit-1/versions?order=desc&from=2&to=3');
      expect((desc.body.items as { version: number }[]).map((r) => r.version)).toEqual([3, 2]);

      const one = await get('/items/audit-1/versions/2');
      expect(one).toMatchObject({
        status: 200,
        body: { version: 2, versionKey: 'v0002', op: 'MODIFY', image: { status: 'paid' } },
      });

      const asOf = await get(`/items/audit-1/as-of?at=${encodeURIComponent('2099-01-01T00:00:00Z')}`);
      expect(asOf).toMatchObject({ status: 200, body: { version: 4, source: 'rollback' } });

      const diff = await get('/items/audit-1/diff?from=1&to=3');
      expect(diff.status).toBe(200);
      expect(diff.body.changed).toEqual([
        { path: 'address.city', before: 'c1', after: 'c3' },
        { path: 'status', before: 'new', after: 'shipped' },
        { path: 'version', before: 1, after: 3 },
      ]);
    });

    it('addresses item keys with #, /, spaces and unicode', async () => {
      const ids = ['a#b', 'a/b', 'with space', 'ünï côdé ✓', '50%'];
      for (const id of ids) await write(id, 1, 'x');
      for (const id of ids) await waitFor(dynamo, id, 1);
      for (const id of ids) {
        const response = await get(`/items/${encodeURIComponent(id)}/versions/1`);
        expect(response).toMatchObject({ status: 200, body: { itemKey: id, version: 1 } });
      }
      const cli = await runCli(['show', 'a/b', '1', '--json'], cliEnv);
      expect(cli.code).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({ itemKey: 'a/b', version: 1 });
    });

    it('runs the CLI: versions, show, as-of, diff and rollback, for people and for scripts', async () => {
      const versions = await runCli(['versions', 'audit-1'], cliEnv);
      expect(versions.code).toBe(0);
      expect(versions.stdout).toMatch(/^VERSION\s+OP\s+SOURCE\s+RECORDED AT\s+ACTOR\s+CHANGED/);
      expect(versions.stdout).toContain('rollback (from v1)');

      const json = await runCli(['versions', 'audit-1', '--json', '--order', 'desc', '--limit', '1'], cliEnv);
      expect(JSON.parse(json.stdout).items.map((r: { version: number }) => r.version)).toEqual([4]);

      const show = await runCli(['show', 'audit-1', '2'], cliEnv);
      expect(show.stdout).toContain('version   2 (v0002)');
      expect(show.stdout).toContain('"status": "paid"');

      const asOf = await runCli(['as-of', 'audit-1', '2099-01-01T00:00:00Z', '--json'], cliEnv);
      expect(JSON.parse(asOf.stdout)).toMatchObject({ version: 4 });

      const diff = await runCli(['diff', 'audit-1', '1', '2'], cliEnv);
      expect(diff.stdout).toContain('~ status: "new" → "paid"');

      const dry = await runCli(['rollback', 'audit-1', '2', '--dry-run', '--json'], cliEnv);
      expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, newVersion: 5, restoredVersion: 2 });
      const real = await runCli(
        ['rollback', 'audit-1', '2', '--expected-version', '4', '--actor', 'cli', '--reason', 'cli test'],
        cliEnv,
      );
      expect(real).toMatchObject({ code: 0 });
      expect(real.stdout).toContain('restored audit-1 v2 as v5 (was v4)');
      const records = await waitFor(dynamo, 'audit-1', 5);
      expect(records[4]).toMatchObject({
        source: 'rollback',
        restoredFrom: 2,
        actor: 'cli',
        reason: 'cli test',
      });
    });

    describe('bad input gets a typed error and writes nothing', () => {
      let before: Awaited<ReturnType<typeof snapshot>>;
      beforeAll(async () => {
        await waitFor(dynamo, 'audit-1', 5);
        before = await snapshot('audit-1');
      });
      afterAll(async () => {
        await new Promise((r) => setTimeout(r, 1000));
        expect(await snapshot('audit-1')).toEqual(before);
      });

      const oversized = 'x'.repeat(20 * 1024);
      it.each<[string, string, unknown]>([
        ['null', 'ValidationError', null],
        ['a string', 'ValidationError', 'audit-1'],
        ['an array', 'ValidationError', [{ key: { id: 'audit-1' }, toVersion: 1 }]],
        ['an empty object', 'ValidationError', {}],
        ['no key', 'ValidationError', { toVersion: 1 }],
        ['a string key', 'ValidationError', { key: 'audit-1', toVersion: 1 }],
        ['an extra key attribute', 'ValidationError', { key: { id: 'audit-1', sk: 'x' }, toVersion: 1 }],
        ['a missing key attribute', 'ValidationError', { key: { pk: 'audit-1' }, toVersion: 1 }],
        ['a numeric key', 'ValidationError', { key: { id: 1 }, toVersion: 1 }],
        ['an empty key', 'ValidationError', { key: { id: '' }, toVersion: 1 }],
        ['toVersion 0', 'ValidationError', { key: { id: 'audit-1' }, toVersion: 0 }],
        ['a negative toVersion', 'ValidationError', { key: { id: 'audit-1' }, toVersion: -1 }],
        ['a fractional toVersion', 'ValidationError', { key: { id: 'audit-1' }, toVersion: 1.5 }],
        ['a string toVersion', 'ValidationError', { key: { id: 'audit-1' }, toVersion: 'one' }],
        [
          'a toVersion past MAX_SAFE_INTEGER',
          'ValidationError',
          { key: { id: 'audit-1' }, toVersion: 2 ** 53 },
        ],
        [
          'a string expectedVersion',
          'ValidationError',
          { key: { id: 'audit-1' }, toVersion: 1, expectedVersion: '5' },
        ],
        [
          'a negative expectedVersion',
          'ValidationError',
          { key: { id: 'audit-1' }, toVersion: 1, expectedVersion: -5 },
        ],
        ['an unknown field', 'ValidationError', { key: { id: 'audit-1' }, toVersion: 1, force: true }],
        ['a non-boolean dryRun', 'ValidationError', { key: { id: 'audit-1' }, toVersion: 1, dryRun: 'no' }],
        ['a numeric actor', 'ValidationError', { key: { id: 'audit-1' }, toVersion: 1, actor: 1 }],
        [
          'an oversized payload',
          'ValidationError',
          { key: { id: 'audit-1' }, toVersion: 1, reason: oversized },
        ],
        [
          'a stale expectedVersion',
          'VersionConflictError',
          { key: { id: 'audit-1' }, toVersion: 1, expectedVersion: 1 },
        ],
        ['an unknown version', 'VersionNotFoundError', { key: { id: 'audit-1' }, toVersion: 99 }],
      ])('rollback payload with %s → %s', async (_case, errorType, payload) => {
        const { functionError, body } = await invoke(payload);
        expect(functionError).toBe('Unhandled');
        expect(body.errorType).toBe(errorType);
      });

      const forged = `${Buffer.from(JSON.stringify({ k: 'audit-1', v: 'v0001', o: 'asc' })).toString('base64url')}.AAAAAAAAAAAAAAAAAAAAAA`;
      it.each<[string, number, string, string]>([
        ['version 0', 400, 'validation', '/items/audit-1/versions/0'],
        ['a negative version', 400, 'validation', '/items/audit-1/versions/-1'],
        ['a fractional version', 400, 'validation', '/items/audit-1/versions/1.5'],
        ['a word for a version', 400, 'validation', '/items/audit-1/versions/two'],
        ['a version past MAX_SAFE_INTEGER', 400, 'validation', '/items/audit-1/versions/99999999999999999'],
        ['an unknown version', 404, 'version.notFound', '/items/audit-1/versions/77'],
        ['an unknown item', 404, 'item.notFound', '/items/nobody/versions/1'],
        ['limit 0', 400, 'validation', '/items/audit-1/versions?limit=0'],
        ['limit 1001', 400, 'validation', '/items/audit-1/versions?limit=1001'],
        ['a word for a limit', 400, 'validation', '/items/audit-1/versions?limit=ten'],
        ['an unknown order', 400, 'validation', '/items/audit-1/versions?order=sideways'],
        ['from after to', 400, 'validation', '/items/audit-1/versions?from=3&to=2'],
        ['a garbage cursor', 400, 'validation', '/items/audit-1/versions?cursor=garbage'],
        ['a forged cursor', 400, 'validation', `/items/audit-1/versions?cursor=${forged}`],
        ['an unknown parameter', 400, 'validation', '/items/audit-1/versions?limt=2'],
        ['as-of without at', 400, 'validation', '/items/audit-1/as-of'],
        ['as-of with a word', 400, 'validation', '/items/audit-1/as-of?at=yesterday'],
        ['as-of without a zone', 400, 'validation', '/items/audit-1/as-of?at=2026-01-01T00:00:00'],
        ['as-of on February 30', 400, 'validation', '/items/audit-1/as-of?at=2026-02-30T00:00:00Z'],
        [
          'as-of before the first version',
          404,
          'version.notFound',
          '/items/audit-1/as-of?at=2000-01-01T00:00:00Z',
        ],
        ['diff without from', 400, 'validation', '/items/audit-1/diff?to=2'],
        ['diff with a word', 400, 'validation', '/items/audit-1/diff?from=1&to=x'],
        ['diff from 0', 400, 'validation', '/items/audit-1/diff?from=0&to=2'],
        ['diff to an unknown version', 404, 'version.notFound', '/items/audit-1/diff?from=1&to=50'],
        ['the versions of an unknown item', 404, 'item.notFound', '/items/nobody/versions'],
      ])('HTTP %s → %i %s', async (_case, status, code, path) => {
        const response = await get(path);
        expect(response.status).toBe(status);
        expect(response.body).toEqual({ code, message: expect.any(String) });
      });

      it.each<[string, number, string[], RegExp]>([
        ['no command', 2, [], /Usage: dynamo-history <command>/],
        ['an unknown command', 2, ['purge', 'audit-1'], /unknown command/],
        ['show without a version', 2, ['show', 'audit-1'], /takes 2 argument/],
        ['show version 0', 2, ['show', 'audit-1', '0'], /integer/],
        ['show a word', 2, ['show', 'audit-1', 'two'], /integer/],
        ['show an unknown version', 1, ['show', 'audit-1', '88'], /no version 88/],
        ['show an unknown item', 1, ['show', 'nobody', '1'], /not found/],
        ['versions --limit 0', 2, ['versions', 'audit-1', '--limit', '0'], /limit/],
        ['versions --order sideways', 2, ['versions', 'audit-1', '--order', 'sideways'], /order/],
        ['an option the command does not take', 2, ['show', 'audit-1', '1', '--limit', '2'], /does not take/],
        ['an unknown option', 2, ['versions', 'audit-1', '--everything'], /Unknown option/],
        ['as-of with a bad instant', 2, ['as-of', 'audit-1', 'noon'], /ISO-8601/],
        ['diff with one version', 2, ['diff', 'audit-1', '1'], /takes 3 argument/],
        ['rollback to 0', 2, ['rollback', 'audit-1', '0'], /integer/],
        [
          'rollback with a negative expected version',
          2,
          ['rollback', 'audit-1', '1', '--expected-version=-1'],
          /integer/,
        ],
        [
          'rollback with a stale expected version',
          2,
          ['rollback', 'audit-1', '1', '--expected-version', '2'],
          /conflict/,
        ],
        ['rollback to an unknown version', 1, ['rollback', 'audit-1', '66'], /no version 66/],
      ])('CLI %s → exit %i', async (_case, code, args, message) => {
        const result = await runCli(args, cliEnv);
        expect(result.code).toBe(code);
        expect(`${result.stdout}${result.stderr}`).toMatch(message);
      });
    });
  });

  describe('malformed and oversized events sent straight to writeHistory (R6)', () => {
    let lambda: LambdaClient;
    const invoke = async (payload: unknown) => {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: 'dynamo-history-dev-writeHistory',
          Payload: JSON.stringify(payload),
        }),
      );
      return {
        functionError: out.FunctionError,
        body: JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Record<string, unknown>,
      };
    };
    beforeAll(() => {
      lambda = new LambdaClient({
        endpoint: stack.lambdaEndpoint,
        region: 'us-east-1',
        credentials,
        maxAttempts: 1,
      });
    });
    afterAll(() => lambda?.destroy());

    it.each<[string, unknown]>([
      ['null', null],
      ['a string', 'records'],
      ['no Records', {}],
      ['Records that is not an array', { Records: { eventID: 'x' } }],
    ])('fails the invocation for an event that is %s', async (_case, event) => {
      const { functionError, body } = await invoke(event);
      expect(functionError).toBe('Unhandled');
      expect(body.errorType).toBe('MalformedRecordError');
    });

    it.each<[string, Record<string, unknown>]>([
      ['a bad attribute type', { NewImage: { id: { S: 'r6' }, x: { Z: '1' } } }],
      ['a key of the wrong type', { Keys: { id: { N: '1' } } }],
      ['a text timestamp', { ApproximateCreationDateTime: 'yesterday' }],
      ['a missing NewImage on INSERT', { NewImage: undefined }],
    ])('parks a record with %s and reports success for the rest of the batch', async (_case, change) => {
      const bad = trusted({ keys: { id: S('r6') }, newImage: { id: S('r6'), version: N(1) } });
      Object.assign(bad.dynamodb, change);
      const good = trusted({
        keys: { id: S('r6-good') },
        newImage: { id: S('r6-good'), version: N(1) },
      });
      const { functionError, body } = await invoke({ Records: [bad, good] });
      expect(functionError).toBeUndefined();
      expect(body).toEqual({ batchItemFailures: [] });
      expect(await history(dynamo, 'r6')).toEqual([]);
      expect((await history(dynamo, 'r6-good')).map((r) => r.eventId)).toContain(good.eventID);
    });

    it.each<[string, string, Partial<RecordSpec>]>([
      [
        'another stream',
        'record.foreignStream',
        { arn: 'arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/2026-01-01T00:00:00.000' },
      ],
      ['no event source', 'record.foreignStream', { arn: '' }],
      ['a date in 2100', 'record.outOfWindow', { at: 4_102_444_800 }],
      [
        'a date older than the stream keeps records',
        'record.outOfWindow',
        { at: Math.floor(Date.now() / 1000) - 26 * 3600 },
      ],
    ])('parks a forged record from %s (%s), recording nothing of it', async (_case, code, forged) => {
      const id = `forged-${code}-${Math.random().toString(36).slice(2)}`;
      const record = trusted({ keys: { id: S(id) }, newImage: { id: S(id), version: N(1) }, ...forged });
      const { functionError, body } = await invoke({ Records: [record] });
      expect(functionError).toBeUndefined();
      expect(body).toEqual({ batchItemFailures: [] });
      expect(await history(dynamo, id)).toEqual([]);
      const parked = await dynamo.send(
        new GetItemCommand({
          TableName: 'dynamo-history-dev-failures',
          Key: { failureId: { S: record.eventID } },
          ConsistentRead: true,
        }),
      );
      expect(parked.Item?.errorCode?.S).toBe(code);
    });

    it('parks an image too large even compressed', async () => {
      // Random bytes barely compress: 400 KB of them cannot fit a history item even gzipped.
      const noise = randomBytes(400 * 1024).toString('base64');
      const big = trusted({
        keys: { id: S('r6-big') },
        newImage: { id: S('r6-big'), body: { B: noise } },
      });
      const { functionError, body } = await invoke({ Records: [big] });
      expect(functionError).toBeUndefined();
      expect(body).toEqual({ batchItemFailures: [] });
      expect(await history(dynamo, 'r6-big')).toEqual([]);
      const parked = await dynamo.send(
        new GetItemCommand({
          TableName: 'dynamo-history-dev-failures',
          Key: { failureId: { S: big.eventID } },
          ConsistentRead: true,
        }),
      );
      expect(parked.Item?.errorCode?.S).toBe('record.imageTooLarge');
    });
  });

  it('stops every process on Ctrl-C', async () => {
    const code = await stack.stop();
    expect(code).toBe(0);
    expect(await portOpen(stack.dynamoEndpoint)).toBe(false);
    expect(await portOpen(stack.lambdaEndpoint)).toBe(false);
  });
});

describe('npm start with KEY_ATTRIBUTES=pk,sk', () => {
  let stack: Stack;
  let dynamo: DynamoDBClient;

  beforeAll(async () => {
    stack = await startStack({ KEY_ATTRIBUTES: 'pk,sk' });
    dynamo = new DynamoDBClient({ endpoint: stack.dynamoEndpoint, region: 'us-east-1', credentials });
  }, 180_000);

  afterAll(async () => {
    dynamo?.destroy();
    await stack?.stop();
  });

  it('creates a composite-key latest table and records its items', async () => {
    const key = { pk: { S: 'TENANT#9' }, sk: { S: 'INVOICE#2026/11' } };
    await dynamo.send(new PutItemCommand({ TableName: LATEST, Item: { ...key, amount: { N: '10' } } }));
    await dynamo.send(
      new UpdateItemCommand({
        TableName: LATEST,
        Key: key,
        UpdateExpression: 'SET amount = :a',
        ExpressionAttributeValues: { ':a': { N: '12' } },
      }),
    );
    const records = await waitFor(dynamo, 'TENANT%239|INVOICE%232026%2F11', 2);
    // Over HTTP, the canonical key URL-encoded once, as the README shows.
    const response = await fetch(
      `${stack.httpEndpoint}/items/${encodeURIComponent('TENANT%239|INVOICE%232026%2F11')}/versions`,
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as { items: unknown[] }).items).toHaveLength(2);
    expect(records.map((r) => [r.version, r.op, r.image?.amount])).toEqual([
      ['v0001', 'INSERT', { N: '10' }],
      ['v0002', 'MODIFY', { N: '12' }],
    ]);
  });
});
