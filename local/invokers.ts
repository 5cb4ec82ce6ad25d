import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Invoker, LambdaStreamEvent } from './event-source-mapping';

/** Invokes a function the way AWS's mapping does: synchronously, through a Lambda API (serverless-offline's here). */
export function lambdaInvoker(client: LambdaClient, functionName: string): Invoker {
  return async (event: LambdaStreamEvent) => {
    const out = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: JSON.stringify(event),
      }),
    );
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      return { functionError: `unparseable response: ${text.slice(0, 200)}` };
    }
    return out.FunctionError ? { functionError: out.FunctionError, payload } : { payload };
  };
}

/** Calls a handler in this process, through a JSON round trip so it sees exactly what Lambda would send. */
export function inProcessInvoker(handler: (event: unknown) => Promise<unknown>): Invoker {
  return async (event: LambdaStreamEvent) => {
    try {
      return {
        payload: JSON.parse(JSON.stringify((await handler(JSON.parse(JSON.stringify(event)))) ?? null)),
      };
    } catch (error) {
      return { functionError: error instanceof Error ? error.name : 'Error' };
    }
  };
}
