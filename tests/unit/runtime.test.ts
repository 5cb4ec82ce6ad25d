import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// One Node.js major everywhere (issue 11): the Lambda runtime, the bundles' target, the tests, `npm start`,
// the CLI and the benchmark. `npm ci` brings that Node.js from the npm registry (the `node` package), and
// npm puts it first on every script's PATH; this test fails when any of them drifts.
const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

describe('the Lambda’s Node.js major everywhere', () => {
  const runtime = /^\s*runtime:\s*nodejs(\d+)\.x\s*$/m.exec(read('serverless.yml'))?.[1];

  it('names one runtime in serverless.yml', () => {
    expect(runtime).toBe('22');
  });

  it('runs these tests on it', () => {
    expect(process.versions.node.split('.')[0]).toBe(runtime);
  });

  it('bundles for it, here and in the Jest transform', () => {
    expect(read('serverless.yml')).toMatch(new RegExp(`^\\s*target: node${runtime}\\s*$`, 'm'));
    expect(read('tests/helpers/esbuild-transform.js')).toContain(`target: 'node${runtime}'`);
  });

  it('installs it with npm ci', () => {
    const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
    expect(pkg.devDependencies.node?.split('.')[0]).toBe(runtime);
  });
});
