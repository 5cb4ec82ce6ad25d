import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** An error shaped like DynamoDB's throttling error, as the SDK surfaces it. */
export function throttlingError(): Error {
  const error = new Error('Rate of requests exceeds the allowed throughput (injected)');
  error.name = 'ProvisionedThroughputExceededException';
  return error;
}

/**
 * Injects faults through the SDK client's middleware, before its own retries:
 * the production code path is untouched, only the client it was given misbehaves.
 */
export function injectFault(
  client: DynamoDBClient,
  shouldFail: (command: string, input: Record<string, unknown>) => boolean,
  error: () => Error = throttlingError,
): { injected: () => number } {
  let count = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (shouldFail(context.commandName ?? '', args.input as Record<string, unknown>)) {
        count++;
        throw error();
      }
      return next(args);
    },
    { step: 'initialize', name: 'faultInjection' },
  );
  return { injected: () => count };
}
