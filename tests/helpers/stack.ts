import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '../../local/dynamodb-local';

export interface Stack {
  dynamoEndpoint: string;
  lambdaEndpoint: string;
  httpEndpoint: string;
  /** The audit console npm start serves. */
  consoleUrl: string;
  output: () => string;
  /** Sends Ctrl-C (SIGINT) and waits for the stack to exit; returns its exit code. */
  stop(): Promise<number | null>;
  process: ChildProcess;
}

const ROOT = resolve(__dirname, '..', '..');

/**
 * Runs exactly what `npm start -- --in-memory` runs, on free ports; with `args`, what
 * `npm start -- <args>` runs instead.
 */
export async function startStack(
  env: Record<string, string> = {},
  timeoutMs = 150_000,
  args: string[] = ['--in-memory'],
): Promise<Stack> {
  const [dynamo, http, lambda, ui] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      DYNAMODB_PORT: String(dynamo),
      HTTP_PORT: String(http),
      LAMBDA_PORT: String(lambda),
      CONSOLE_PORT: String(ui),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`stack did not start:\n${output}`)), timeoutMs);
    const check = () => {
      if (output.includes('[dynamo-history] ready.')) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // The stack's own lines first (the reason it stopped is among them), then everything it printed.
      const own = output.split('\n').filter((line) => line.startsWith('[dynamo-history]'));
      fail(new Error(`stack exited (${code}) before it was ready:\n${own.join('\n')}\n\n${output}`));
    });
  });
  return {
    dynamoEndpoint: `http://127.0.0.1:${dynamo}`,
    lambdaEndpoint: `http://127.0.0.1:${lambda}`,
    httpEndpoint: `http://127.0.0.1:${http}`,
    consoleUrl: `http://127.0.0.1:${ui}/`,
    output: () => output,
    process: child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}
