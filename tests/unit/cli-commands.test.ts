import { COMMANDS, main } from '../../cli/main';

// The command modules and commander's parsing, before any request: help per command, and refusals
// that say what to fix (exit 2).
async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), color: false, env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

it('has one module per command family and help for each command', async () => {
  expect(COMMANDS.map((c) => c.name)).toEqual([
    'versions',
    'show',
    'as-of',
    'diff',
    'activity',
    'blame',
    'rollback',
    'verify',
    'backfill',
    'repair',
    'digest',
    'init',
    'ui',
  ]);
  for (const spec of COMMANDS) {
    const help = await run(spec.name, '--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain(`Usage: dynamo-history ${spec.name}`);
    for (const option of spec.options) expect(help.out).toContain(option.flags);
    expect(help.out).toContain('--table <name>');
  }
});

it.each<[string, string[], RegExp]>([
  ['no command', [], /Usage: dynamo-history <command> \[options\]/],
  ['an unknown command', ['purge'], /unknown command "purge"/],
  [
    'a missing argument',
    ['diff', 'a', '1'],
    /diff takes 3 argument\(s\) \(<itemKey> <fromVersion> <toVersion>\)/,
  ],
  ['an extra argument', ['show', 'a', '1', '2'], /show takes 2 argument/],
  [
    'another command’s option',
    ['verify', '--limit', '3'],
    /verify does not take --limit; see dynamo-history verify --help/,
  ],
  ['an unknown option', ['verify', '--everything'], /Unknown option '--everything'/],
  ['an option without its value', ['versions', 'a', '--limit'], /--limit <n>' argument missing/],
  [
    'two tables where one is read',
    ['versions', 'a', '--table', 'A', '--table', 'B'],
    /give one --table, got 2/,
  ],
])('refuses %s with exit 2', async (_case, argv, message) => {
  const result = await run(...argv);
  expect(result.code).toBe(2);
  expect(`${result.out}${result.err}`).toMatch(message);
});

it('answers a usage error in JSON with --json', async () => {
  const result = await run('verify', '--limit', '3', '--json');
  expect(JSON.parse(result.err)).toEqual({
    code: 'validation',
    message: expect.stringContaining('does not take'),
    errorType: 'ValidationError',
  });
});

it('runs as the README says to run it: `npx dynamo-history` in the repository, on the project’s Node.js', () => {
  const root = require('node:path').join(__dirname, '..', '..');
  const out = require('node:child_process').execFileSync(
    'npx',
    ['--no-install', 'dynamo-history', 'verify', '--help'],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    },
  );
  expect(out).toContain('Usage: dynamo-history verify [options]');
  // npx puts node_modules/.bin first on the PATH, where npm ci put Node.js 22 (the `node` package).
  const node = require('node:child_process').execFileSync('npx', ['--no-install', 'node', '--version'], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(node.trim().split('.')[0]).toBe('v22');
});

it('serves the console with `ui` until Ctrl-C, on loopback, and refuses a port it cannot use', async () => {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn(process.execPath, ['bin/dynamo-history.js', 'ui', '--port', '0'], {
    cwd: require('node:path').resolve(__dirname, '..', '..'),
    // A region and an endpoint, as any command needs; the console reads nothing until asked.
    env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const found = /console on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
  const page = await fetch(url);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<meta name="console-token"');
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  child.kill('SIGINT');
  expect(await exited).toBe(0);

  const bad = await run('ui', '--port', '70000');
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/--port must be a TCP port, got 70000/);
  const { createServer } = require('node:net') as typeof import('node:net');
  const taken = createServer();
  await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
  const port = String((taken.address() as import('node:net').AddressInfo).port);
  const busy = await run('ui', '--port', port);
  taken.close();
  expect(busy.code).toBe(2);
  expect(busy.err).toMatch(new RegExp(`port ${port} is in use`));
}, 60_000);
