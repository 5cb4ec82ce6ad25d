import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { freePort } from '../../local/dynamodb-local';

// What `npm start` says when it cannot start (issue 11): one line naming the variable to change,
// never a stack trace.
const ROOT = resolve(__dirname, '..', '..');

it.each([['HTTP_PORT'], ['LAMBDA_PORT'], ['DYNAMODB_PORT']])(
  'names %s when its port is taken',
  async (variable) => {
    const ports = {
      DYNAMODB_PORT: await freePort(),
      HTTP_PORT: await freePort(),
      LAMBDA_PORT: await freePort(),
    };
    const taken: Server = createServer();
    await new Promise<void>((ok) => taken.listen(ports[variable as keyof typeof ports], '127.0.0.1', ok));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'local/start.ts', '--in-memory'], {
        cwd: ROOT,
        env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `is already in use; stop whatever holds it or set ${variable} to a free port`,
      );
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    } finally {
      await new Promise((done) => taken.close(done));
    }
  },
  150_000,
);
