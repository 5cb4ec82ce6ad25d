import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Stack } from './stack';

export const ROOT = resolve(__dirname, '..', '..');
export const README = join(ROOT, 'README.md');

/** The fenced blocks of one README section, in order, with their language. */
export function readmeBlocks(section: string): { lang: string; body: string }[] {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(`## ${section}`);
  const text = readme.slice(start, readme.indexOf('\n## ', start + 3));
  return [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1] ?? '', body: m[2] ?? '' }));
}

/**
 * The environment a README session runs in against a test's stack: the variables the README exports,
 * and nothing of the user's own AWS profile, files or settings file.
 */
export function readmeEnv(stack: Stack): NodeJS.ProcessEnv {
  const { AWS_PROFILE: _profile, DYNAMO_HISTORY_CONFIG: _config, ...inherited } = process.env;
  return {
    ...inherited,
    NO_COLOR: '1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoEndpoint,
  };
}

/** A README command line as it runs against a test's stack: its ports, this repo's CLI and scripts. */
export function onStack(stack: Stack, script: string): string {
  return script
    .replaceAll('http://localhost:8000', stack.dynamoEndpoint)
    .replaceAll('localhost:3000', stack.httpEndpoint.replace('http://', ''))
    .replaceAll('http://localhost:3002', stack.lambdaEndpoint)
    .replaceAll('npx dynamo-history', `"${process.execPath}" "${join(ROOT, 'bin', 'dynamo-history.js')}"`)
    .replaceAll('cli/verify-chain.py', join(ROOT, 'cli', 'verify-chain.py'));
}
