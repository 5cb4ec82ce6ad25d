import type { BatchExecuteStatementCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';

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

/**
 * Faults of single statements in PartiQL batches, the request itself succeeding as DynamoDB's does:
 * a statement **refused** (taken out of the request before it reaches the table, and answered with a
 * throttling error), or one that ran but whose answer was **lost** (answered with an internal error
 * after it wrote). `chance` draws a number in [0, 1) per statement.
 */
export function injectStatementFaults(
  client: DynamoDBClient,
  chance: () => number,
  rates: { refused: number; lost: number },
): { refused: () => number; lost: () => number } {
  let refused = 0;
  let lost = 0;
  const error = (Code: string) => ({ Error: { Code, Message: `${Code} (injected)` } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchExecuteStatementCommand') return next(args);
      const input = args.input as BatchExecuteStatementCommandInput;
      const statements = input.Statements ?? [];
      const refuse = statements.map(() => chance() < rates.refused);
      const kept = statements.filter((_, i) => !refuse[i]);
      refused += statements.length - kept.length;
      const answered =
        kept.length === 0
          ? []
          : ((
              (await next({ ...args, input: { ...input, Statements: kept } })).output as {
                Responses?: unknown[];
              }
            ).Responses ?? []);
      let k = 0;
      const Responses = statements.map((_, i) => {
        if (refuse[i]) return error('ThrottlingError');
        const response = answered[k++] as { Error?: unknown } | undefined;
        if (response && response.Error === undefined && chance() < rates.lost) {
          lost++;
          return error('InternalServerError');
        }
        return response;
      });
      return { output: { $metadata: {}, Responses }, response: {} } as never;
    },
    { step: 'initialize', name: 'statementFaults' },
  );
  return { refused: () => refused, lost: () => lost };
}

/**
 * The items a request would write: a `PutItem`'s item, or each `INSERT` of a PartiQL batch, its
 * attributes read back from the statement's names and parameters.
 */
export function itemsWritten(
  command: string,
  input: Record<string, unknown>,
): Record<string, { S?: string }>[] {
  if (command === 'PutItemCommand') return input.Item ? [input.Item as Record<string, { S?: string }>] : [];
  if (command !== 'BatchExecuteStatementCommand') return [];
  const statements = (input as unknown as BatchExecuteStatementCommandInput).Statements ?? [];
  return statements.map((s) => {
    const names = [...(s.Statement ?? '').matchAll(/'((?:[^']|'')*)': \?/g)].map((m) =>
      (m[1] as string).replace(/''/g, "'"),
    );
    return Object.fromEntries(names.map((n, i) => [n, s.Parameters?.[i] as { S?: string }]));
  });
}

/** A request that writes into `table`: a `PutItem`, or a PartiQL batch of `INSERT`s into it. */
export const writesInto =
  (table: string) =>
  (command: string, input: Record<string, unknown>): boolean =>
    (command === 'PutItemCommand' && input.TableName === table) ||
    (command === 'BatchExecuteStatementCommand' &&
      ((input.Statements as { Statement?: string }[] | undefined) ?? []).some((s) =>
        s.Statement?.startsWith(`INSERT INTO "${table}"`),
      ));

/** Counts the requests of each command sent through a client. */
export function countCommands(c: DynamoDBClient): Map<string, number> {
  const counts = new Map<string, number>();
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '?';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}
