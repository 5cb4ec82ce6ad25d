import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { printable } from '../../cli/main';
import { cliEnv, runCli } from '../helpers/cli';
import { createTestTables, testClient, testEndpoint } from '../helpers/dynamo';

const BIN = resolve(__dirname, '..', '..', 'bin', 'dynamo-history.js');
const client = testClient();
afterAll(() => client.destroy());

describe('the CLI with untrusted content and closed pipes (issue 14)', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    const { tables } = await createTestTables(client);
    env = cliEnv(tables, testEndpoint());
  });

  it('shows control characters in an item key as \\xNN, never sends them to the terminal', async () => {
    const cli = await runCli(['show', 'x\u001b[31m\u0007', '1'], env);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('Item x\\x1b[31m\\x07 not found');
    expect(cli.stderr).not.toContain('\u001b');
    expect(cli.stderr).not.toContain('\u0007');
  });

  it('makes any control character printable and keeps newlines', () => {
    expect(printable('a\u001b]0;title\u0007b\nc\u009bd')).toBe('a\\x1b]0;title\\x07b\nc\\x9bd');
  });

  it('exits quietly when its reader goes away (dynamo-history verify | head)', async () => {
    const child = spawn(process.execPath, [BIN, 'verify'], {
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before the first line
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });
});
