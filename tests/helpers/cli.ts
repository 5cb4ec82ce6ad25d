import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const BIN = resolve(__dirname, '..', '..', 'bin', 'dynamo-history.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `dynamo-history` executable as a child process. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 99) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** The environment that points the CLI at a test's tables on the test DynamoDB Local. */
export function cliEnv(
  tables: { latest: string; history: string; failures: string },
  endpoint: string,
): Record<string, string> {
  return {
    LATEST_TABLE_NAME: tables.latest,
    HISTORY_TABLE_NAME: tables.history,
    FAILURES_TABLE_NAME: tables.failures,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
}
