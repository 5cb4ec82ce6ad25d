/** Minimal structured JSON logger: one line per entry, fields at the root, so CloudWatch Logs Insights can query them. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  service: string,
  level: string = process.env.LOG_LEVEL ?? 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const threshold = ORDER[(level.toLowerCase() as Level) in ORDER ? (level.toLowerCase() as Level) : 'info'];
  const log =
    (lvl: Level) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[lvl] < threshold) return;
      write(
        JSON.stringify({
          level: lvl.toUpperCase(),
          time: new Date().toISOString(),
          service,
          message,
          ...fields,
        }),
      );
    };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
