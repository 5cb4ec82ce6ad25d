import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { onStack, README, ROOT, readmeEnv } from '../helpers/readme';
import { type Stack, startStack } from '../helpers/stack';

// Every README block marked `<!-- transcript -->` (lines `$ command` followed by its output) and every
// `<!-- setup -->` block, run in README order as one session on a fresh `npm start -- --in-memory` stack,
// in a fresh folder. Each command's output must be the one shown, with times and hashes (which differ
// from run to run) and layout whitespace aside. Commands that only read history are retried for a few
// seconds, as history follows its table by a fraction of a second. README_UPDATE=1 writes the real
// outputs into the README instead (then review the diff).
const work = mkdtempSync(join(tmpdir(), 'dh-transcripts-'));
const update = process.env.README_UPDATE === '1';
let stack: Stack;

interface Command {
  /** The command as printed (continuation lines joined). */
  text: string;
  /** Its shown output. */
  expected: string;
  /** Where its output lines are in the README, to rewrite them under README_UPDATE. */
  outputLines: [number, number];
}
type Block = { kind: 'setup'; script: string } | { kind: 'transcript'; commands: Command[] };

function blocks(lines: string[]): Block[] {
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- (setup|transcript) -->$/.exec(lines[i] ?? '')?.[1];
    if (!marker) continue;
    const start = i + 2; // the marker, then the opening fence
    let end = start;
    while (!(lines[end] ?? '```').startsWith('```')) end++;
    const body = lines.slice(start, end);
    if (marker === 'setup') {
      out.push({ kind: 'setup', script: body.join('\n') });
    } else {
      const commands: Command[] = [];
      for (let j = 0; j < body.length; ) {
        let text = (body[j] ?? '').replace(/^\$ /, '');
        while (text.endsWith('\\') && j + 1 < body.length)
          text = `${text.slice(0, -1)} ${(body[++j] ?? '').trim()}`;
        const first = j + 1;
        j = first;
        while (j < body.length && !(body[j] ?? '').startsWith('$ ')) j++;
        commands.push({
          text,
          expected: body.slice(first, j).join('\n'),
          outputLines: [start + first, start + j],
        });
      }
      out.push({ kind: 'transcript', commands });
    }
    i = end;
  }
  return out;
}

const normalize = (text: string) =>
  text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}[:-]\d{2}[:-]\d{2}([.-]\d+)?Z?/g, '<time>')
    .replace(/\b[0-9a-f]{64}\b/g, '<hash>')
    .replace(/\s+/g, '');

const READS =
  /^(npx dynamo-history (versions|show|verify|diff|as-of)|curl -s '|aws dynamodb query|cat |python3 )/;

/**
 * Waits until history has caught up with the latest table (every item's newest history version is the
 * item's own version), as a user who reads the README's outputs a second later sees it. Under load the
 * stream can lag by more than the README's `sleep 1`.
 */
async function settle(): Promise<void> {
  const client = new DynamoDBClient({
    endpoint: stack.dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    for (let i = 0; i < 100; i++) {
      const items =
        (await client.send(new ScanCommand({ TableName: 'dynamo-history-dev-latest' }))).Items ?? [];
      let behind = false;
      for (const item of items) {
        const newest = await client.send(
          new QueryCommand({
            TableName: 'dynamo-history-dev-history',
            KeyConditionExpression: 'itemKey = :k AND begins_with(version, :v)',
            ExpressionAttributeValues: { ':k': { S: item.id?.S ?? '' }, ':v': { S: 'v' } },
            ScanIndexForward: false,
            Limit: 1,
            ConsistentRead: true,
          }),
        );
        if (newest.Items?.[0]?.versionNumber?.N !== item.version?.N) behind = true;
      }
      if (!behind) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.destroy();
  }
}

function shell(script: string, strict: boolean): { status: number | null; output: string } {
  const local = onStack(stack, script);
  const run = spawnSync('bash', strict ? ['-euo', 'pipefail', '-c', local] : ['-c', `{ ${local}\n} 2>&1`], {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    // No settings file in the fresh folder: the created table, as in the README.
    env: { ...readmeEnv(stack), DYNAMO_HISTORY_CONFIG: join(work, 'config', 'dev.json') },
  });
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}`.replace(/\n$/, '') };
}

const dataDir = join(work, 'db');
beforeAll(async () => {
  // Persistent, as a bare `npm start` is (in a folder of its own rather than .dynamodb/).
  stack = await startStack({}, 180_000, ['--data-dir', dataDir]);
}, 200_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('runs every README transcript as printed and prints what it shows', async () => {
  const lines = readFileSync(README, 'utf8').split('\n');
  const all = blocks(lines);
  expect(all.filter((b) => b.kind === 'transcript').length).toBeGreaterThanOrEqual(6);
  const rewrites: { at: [number, number]; output: string }[] = [];
  for (const block of all) {
    if (block.kind === 'setup') {
      const { status, output } = shell(block.script, true);
      await settle();
      expect({ setup: block.script.split('\n')[0], status, output: status === 0 ? '' : output }).toEqual({
        setup: block.script.split('\n')[0],
        status: 0,
        output: '',
      });
      continue;
    }
    for (const command of block.commands) {
      const reads = READS.test(command.text);
      if (!reads) await settle();
      let actual = '';
      for (let attempt = 0; attempt < (reads ? 40 : 1); attempt++) {
        if (reads && update && attempt === 0) await new Promise((r) => setTimeout(r, 2000));
        actual = shell(command.text, false).output;
        if (!reads) await settle();
        if (update || normalize(actual) === normalize(command.expected)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (update) rewrites.push({ at: command.outputLines, output: actual });
      else
        expect({ command: command.text, output: normalize(actual) }).toEqual({
          command: command.text,
          output: normalize(command.expected),
        });
    }
  }
  if (update) {
    for (const { at, output } of rewrites.reverse())
      lines.splice(at[0], at[1] - at[0], ...(output ? output.split('\n') : []));
    writeFileSync(README, lines.join('\n'));
  }
}, 300_000);

it('starts as the README’s Quick start shows: every line it prints is in the real output, in order', () => {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf('`npm start` (real output');
  const shown = /```\n([\s\S]*?)```/.exec(readme.slice(start))?.[1] ?? '';
  const port = (url: string) => new URL(url).port;
  const real = stack
    .output()
    .replaceAll(dataDir, join(ROOT, '.dynamodb'))
    .replaceAll(`:${port(stack.dynamoEndpoint)}`, ':8000')
    .replaceAll(`:${port(stack.httpEndpoint)}`, ':3000')
    .replaceAll(`:${port(stack.lambdaEndpoint)}`, ':3002')
    .replaceAll(`:${port(stack.consoleUrl)}`, ':3005');
  const lines = (text: string) =>
    text
      .split('\n')
      .map((l) =>
        l
          .replace(/\d{4}-\d{2}-\d{2}T[\d:.]+/g, '<time>')
          // The clone's folder: the README's output was taken in one, this run is in another.
          .replace(/[^\s(]+(?=\/\.dynamodb)/g, '<repo>')
          .trimEnd(),
      )
      .filter((l) => l.trim() !== '');
  const actual = lines(real);
  let at = 0;
  const missing: string[] = [];
  for (const line of lines(shown)) {
    const found = actual.indexOf(line, at);
    if (found < 0) missing.push(line);
    else at = found + 1;
  }
  expect(lines(shown).length).toBeGreaterThan(10);
  expect({ missing, real: missing.length ? actual : [] }).toEqual({ missing: [], real: [] });
});
