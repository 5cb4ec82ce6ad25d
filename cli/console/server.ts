import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConfigurationError, HistoryError, httpStatusOf } from '../../shared/core/errors';
import { type ConsoleContext, consoleApi } from './api';

/** The page's script and style, bundled by esbuild from cli/console/page: nothing is fetched from anywhere else. */
export interface ConsoleAssets {
  script: string;
  style: string;
}

const PAGE_DIR = join(__dirname, 'page');

/** Bundles the page (TypeScript → one script) in memory, once per server. */
export async function buildAssets(): Promise<ConsoleAssets> {
  // esbuild is a dependency of the tooling (the CLI runs from this repository), loaded only by `ui`.
  const { build } = require('esbuild') as typeof import('esbuild');
  const out = await build({
    entryPoints: [join(PAGE_DIR, 'app.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = out.outputFiles[0]?.text;
  if (script === undefined) throw new Error('esbuild produced no console script');
  return { script, style: readFileSync(join(PAGE_DIR, 'style.css'), 'utf8') };
}

/** The largest request body the console reads (a rollback request), in bytes. */
const MAX_BODY_BYTES = 16 * 1024;

/** Response headers of every answer: nothing framed, nothing sniffed, no referrer, and only our own script runs. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function shell(token: string, title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="console-token" content="${escapeHtml(token)}">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/">dynamo-history</a><nav id="nav"></nav></header>
<main id="main" tabindex="-1"><noscript>The console needs JavaScript.</noscript></main>
<script src="/assets/app.js"></script>
</body>
</html>
`;
}

export interface ConsoleServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ConsoleServerOptions extends ConsoleContext {
  /** 0 picks a free port. */
  port: number;
  /** Only loopback: the console holds the caller's AWS credentials. */
  host?: '127.0.0.1' | '::1';
  assets?: ConsoleAssets;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...extra });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

async function readBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json(;|$)/.test(type))
    throw new RequestError(415, 'console.contentType', 'send the request as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new RequestError(413, 'console.tooLarge', `the request is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError(400, 'console.json', 'the request body is not JSON');
  }
}

/**
 * `dynamo-history ui`: the audit console, a local web server on loopback over the same shared
 * readers and services as the CLI and the Lambdas.
 *
 * Defences, since the page holds the caller's AWS credentials' power:
 * - it listens on 127.0.0.1 only, and answers only requests whose Host is this server
 *   (`127.0.0.1:port` or `localhost:port`), so a DNS-rebound foreign name gets a 403;
 * - every API call needs the per-run token the page carries, in the `x-console-token` header:
 *   a foreign page can neither read it nor set a custom header without a CORS preflight, which
 *   is never granted;
 * - a rollback is a POST of JSON, and its Origin must be this server;
 * - the page builds the DOM from text (never HTML from data), under a CSP that runs only its own script.
 */
export async function startConsole(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const assets = options.assets ?? (await buildAssets());
  const token = randomBytes(32).toString('base64url');
  const api = consoleApi(options);
  let port = options.port;
  const hosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const origins = () => new Set([...hosts()].map((h) => `http://${h}`));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = req.headers.host ?? '';
    if (!hosts().has(host))
      throw new RequestError(403, 'console.host', `this console answers only ${[...hosts()].join(' or ')}`);
    const url = new URL(req.url ?? '/', `http://${host}`);
    const path = url.pathname;
    if (!path.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new RequestError(405, 'console.method', `${req.method} is not allowed here`);
      if (path === '/assets/app.js') return send(res, 200, 'text/javascript; charset=utf-8', assets.script);
      if (path === '/assets/style.css') return send(res, 200, 'text/css; charset=utf-8', assets.style);
      if (path === '/')
        return send(res, 200, 'text/html; charset=utf-8', shell(token, 'dynamo-history console'));
      if (path === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
      throw new RequestError(404, 'console.notFound', `no page at ${path}`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !origins().has(origin))
      throw new RequestError(403, 'console.origin', `requests from ${origin} are refused`);
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      throw new RequestError(403, 'console.crossSite', 'cross-site requests are refused');
    const given = Buffer.from(String(req.headers['x-console-token'] ?? ''));
    const good = Buffer.from(token);
    if (given.length !== good.length || !timingSafeEqual(given, good))
      throw new RequestError(403, 'console.token', 'the console token is missing or wrong: reload the page');
    const name = path.slice('/api/'.length);
    if (name === 'rollback') {
      if (req.method !== 'POST') throw new RequestError(405, 'console.method', 'a rollback is a POST');
      if (origin === undefined)
        throw new RequestError(
          403,
          'console.origin',
          'a rollback must come from the console page (no Origin)',
        );
      return sendJson(res, 200, await api.rollback(await readBody(req)));
    }
    const run = Object.hasOwn(api.get, name) ? api.get[name] : undefined;
    if (!run) throw new RequestError(404, 'console.notFound', `no API call ${name}`);
    if (req.method !== 'GET') throw new RequestError(405, 'console.method', `${name} is a GET`);
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    return sendJson(res, 200, await run(params));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RequestError)
        return sendJson(res, error.status, { code: error.code, message: error.message });
      // A setting the console lacks (no rollback label key): the operator's to fix, said plainly.
      if (error instanceof ConfigurationError)
        return sendJson(res, 503, { code: error.code, message: error.message });
      const status = httpStatusOf(error);
      if (error instanceof HistoryError && status < 500)
        return sendJson(res, status, { code: error.code, message: error.message });
      // Anything else is ours to fix: a line on the console's stderr, and nothing of it on the page.
      process.stderr.write(
        `[console] ${req.method} ${req.url}: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      return sendJson(res, 500, { code: 'internal', message: 'internal error (see the console’s terminal)' });
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
