import { execFileSync } from 'node:child_process';
import { readmeBlocks } from '../helpers/readme';
import { type Stack, startStack } from '../helpers/stack';

// The README's "Try it with your own tools" session, run as printed against the npm start stack with the
// AWS CLI and boto3 (issue 11: every README command and its shown output stay true). Only the endpoint's
// port differs: the test's stack runs on a free one.
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

it('runs the README’s AWS CLI and boto3 session and prints the history it shows', async () => {
  const [setup, app, query, shown] = readmeBlocks('Try it with your own tools');
  expect([setup?.lang, app?.lang, query?.lang, shown?.lang]).toEqual(['bash', 'python', 'bash', '']);
  const local = (text: string) => text.replaceAll('http://localhost:8000', stack.dynamoEndpoint);
  const exports = (setup?.body ?? '').split('\n').filter((line) => line.startsWith('export '));
  // The user's own AWS profile and files are left out: the README's variables are the whole setup.
  const { AWS_PROFILE: _profile, ...inherited } = process.env;
  const env = { ...inherited, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' };
  const bash = (script: string) =>
    execFileSync('bash', ['-euo', 'pipefail', '-c', local(script)], { env, encoding: 'utf8' });

  bash(setup?.body ?? '');
  // The python block runs with the environment the bash block exported.
  bash(`${exports.join('\n')}\npython3 - <<'PY'\n${app?.body ?? ''}PY`);

  const run = () => bash(`${exports.join('\n')}\n${query?.body ?? ''}`);
  let out = '';
  for (let i = 0; i < 50 && out.trim().split('\n').length < 4; i++) {
    out = run();
    if (out.trim().split('\n').length < 4) await new Promise((r) => setTimeout(r, 200));
  }
  expect(out).toBe(shown?.body);
}, 120_000);
