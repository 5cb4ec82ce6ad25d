import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import type { LogLevel } from '../core/config';
import { errorFields, type Logger } from '../core/logger';

/** The handlers' logger: the shared interface, plus the invocation's Lambda context. */
export interface LambdaLogger extends Logger {
  /** Adds the request ID, function name and cold start of this invocation to every line it logs. */
  withContext(context: unknown): void;
}

const isContext = (context: unknown): context is Context =>
  typeof (context as { awsRequestId?: unknown } | null)?.awsRequestId === 'string';

/**
 * Powertools Logger (`@aws-lambda-powertools/logger`) behind the shared `Logger` interface: JSON
 * lines with the request ID, cold start and X-Ray trace ID, and errors logged whole.
 */
export function lambdaLogger(component: string, level: LogLevel): LambdaLogger {
  const logger = new PowertoolsLogger({
    serviceName: component,
    logLevel: level.toUpperCase() as 'DEBUG' | 'INFO' | 'WARN' | 'ERROR',
  });
  const fields = (extra: Record<string, unknown> = {}) =>
    Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, errorFields(v)]));
  return {
    info: (message, extra) => logger.info(message, fields(extra)),
    warn: (message, extra) => logger.warn(message, fields(extra)),
    error: (message, extra) => logger.error(message, fields(extra)),
    withContext: (context) => {
      if (isContext(context)) logger.addContext(context);
    },
  };
}
