import { lambdaLogger } from '../../shared/aws/lambda-logger';
import { createLogger } from '../../shared/core/logger';

// The handlers' log lines carry the invocation (request ID, function, cold start) and log an error whole:
// class, message, stack and cause, which `String(error)` lost.
const context = {
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  functionName: 'dynamo-history-dev-writeHistory',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:dynamo-history-dev-writeHistory',
  memoryLimitInMB: '512',
  logGroupName: '/aws/lambda/dynamo-history-dev-writeHistory',
  logStreamName: 's',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 1000,
};

function capture(run: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    jest.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }),
  );
  try {
    run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines
    .join('')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}

const failure = () => {
  const error = new Error('conditional put failed', { cause: new Error('ThrottlingException') });
  (error as Error & { code: string }).code = 'record.retry';
  return error;
};

it('logs with the request ID and the whole error through Powertools', () => {
  const logger = lambdaLogger('writeHistory', 'info');
  logger.withContext(context);
  const [line] = capture(() =>
    logger.warn('record will be retried', { itemKey: 'order-1', error: failure() }),
  );
  expect(line).toMatchObject({
    level: 'WARN',
    message: 'record will be retried',
    service: 'writeHistory',
    function_request_id: context.awsRequestId,
    function_name: context.functionName,
    itemKey: 'order-1',
    error: {
      name: 'Error',
      message: 'conditional put failed',
      code: 'record.retry',
      cause: { message: 'ThrottlingException' },
    },
  });
  expect(typeof line?.cold_start).toBe('boolean');
  expect(String((line?.error as { stack?: string } | undefined)?.stack)).toContain('conditional put failed');
});

it('keeps below-level lines out, and takes an invocation without a context', () => {
  const logger = lambdaLogger('audit', 'warn');
  logger.withContext(undefined);
  expect(capture(() => logger.info('not shown'))).toEqual([]);
  expect(capture(() => logger.error('shown'))).toHaveLength(1);
});

it('logs errors whole outside Lambda too', () => {
  const lines: string[] = [];
  createLogger('cli', 'info', (l) => lines.push(l)).warn('failed', { error: failure() });
  expect(JSON.parse(lines[0] ?? '{}').error).toMatchObject({
    message: 'conditional put failed',
    cause: { message: 'ThrottlingException' },
  });
});
