import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onStack, readmeBlocks, readmeEnv } from '../helpers/readme';
import { type Stack, startStack } from '../helpers/stack';

// The README's "Record your existing tables" session, run as printed against the npm start stack, the
// restart between its two blocks included. The working folder is a fresh one (so `init` writes its
// config/dev.json there, not into this repo), `npx dynamo-history` is this repo's CLI, and the endpoint's
// port is the test stack's. Times, which differ from run to run, are compared as <time>.
const work = mkdtempSync(join(tmpdir(), 'dh-readme-attach-'));
const settings = join(work, 'config', 'dev.json');
const stackArgs = ['--data-dir', join(work, 'db')];
let stack: Stack;

/** Times as <time>, and runs of spaces as one (a table's column widths follow its longest value). */
const normalize = (text: string) =>
  text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?/g, '<time>')
    .replace(/ {2,}/g, ' ')
    .trim();

beforeAll(async () => {
  stack = await startStack({ DYNAMO_HISTORY_CONFIG: settings }, 180_000, stackArgs);
}, 200_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('attaches a table as the README shows, and prints what it shows', async () => {
  const [attach, attached, record, recorded] = readmeBlocks('Record your existing tables');
  expect([attach?.lang, attached?.lang, record?.lang, recorded?.lang]).toEqual(['bash', '', 'bash', '']);
  const bash = (script: string) =>
    execFileSync('bash', ['-euo', 'pipefail', '-c', onStack(stack, script)], {
      cwd: work,
      encoding: 'utf8',
      env: readmeEnv(stack),
    });
  expect(normalize(bash(attach?.body ?? ''))).toBe(normalize(attached?.body ?? ''));

  await stack.stop();
  stack = await startStack({ DYNAMO_HISTORY_CONFIG: settings }, 180_000, stackArgs);
  expect(stack.output()).toContain('tables: Orders (key pk:S,sk:N, attached)');
  // The restarted mapping first records what the stream still holds (the put before the attach).
  await new Promise((r) => setTimeout(r, 1500));
  expect(normalize(bash(record?.body ?? ''))).toBe(normalize(recorded?.body ?? ''));
}, 300_000);
