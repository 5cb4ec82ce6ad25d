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
