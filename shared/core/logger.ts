/** Minimal structured JSON logger: one line per entry, fields at the root, so CloudWatch Logs Insights can query them. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * An error as a log field: its class, code, message, stack and cause, which `String(error)` and
 * `JSON.stringify(error)` both lose.
 */
export function errorFields(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error)) return error;
  const { code } = error as { code?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(error.stack ? { stack: error.stack } : {}),
    ...(error.cause !== undefined && depth < 3 ? { cause: errorFields(error.cause, depth + 1) } : {}),
  };
}

/**
 * The shared code's logger outside Lambda (the local stack, the CLI, tests). The handlers use
 * Powertools behind the same interface (`shared/aws/lambda-logger.ts`).
 */
export function createLogger(
  service: string,
  level = 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const threshold = ORDER[(level.toLowerCase() as Level) in ORDER ? (level.toLowerCase() as Level) : 'info'];
  const log =
    (lvl: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[lvl] < threshold) return;
      write(
        JSON.stringify(
          { level: lvl.toUpperCase(), time: new Date().toISOString(), service, message, ...fields },
          (_key, value) => errorFields(value),
        ),
      );
    };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
