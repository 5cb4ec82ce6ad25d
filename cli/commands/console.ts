import { userInfo } from 'node:os';
import { ValidationError } from '../../shared/core/errors';
import { type CommandSpec, opt } from '../command';
import { type ConsoleServer, startConsole } from '../console/server';
import { EXIT, int } from '../io';
import { labelled, openSession } from '../session';

/** The console's default port: beside npm start's 3000 (HTTP), 3002 (Lambda) and 8000 (DynamoDB Local). */
export const CONSOLE_PORT = 3005;

function whoami(): string {
  try {
    return userInfo().username;
  } catch {
    return 'console';
  }
}

/** Starts the console and says where, or says plainly why it cannot listen. */
export async function listen(options: Parameters<typeof startConsole>[0]): Promise<ConsoleServer> {
  try {
    return await startConsole(options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new ValidationError(
        `port ${options.port} is in use: give another with --port (0 picks a free one)`,
      );
    throw error;
  }
}

export const consoleCommands: CommandSpec[] = [
  {
    name: 'ui',
    summary: 'the audit console: a local web page of items’ history (127.0.0.1 only)',
    args: [],
    options: [
      {
        flags: '--port <n>',
        description: `the port on 127.0.0.1 (default ${CONSOLE_PORT}; 0 picks a free one)`,
      },
      {
        flags: '--actor <name>',
        description: 'who rollbacks from the page are recorded as (claimed; default your user name)',
      },
    ],
    more: 'It reads with your AWS credentials and configuration, as every other command does. Ctrl-C stops it.',
    run: async (io, _args, options) => {
      const session = openSession(io, options);
      const port = int(opt(options, 'port'), '--port', 0) ?? CONSOLE_PORT;
      if (port > 65535) throw new ValidationError(`--port must be a TCP port, got ${port}`);
      const server = await listen({
        client: session.client,
        configs: session.configs,
        labelled: (config) => labelled(config, session.env),
        cursorSecret: session.env.CURSOR_SECRET,
        actor: opt(options, 'actor') ?? whoami(),
        port,
      });
      io.out(
        `dynamo-history console on ${server.url} (${session.configs.map((c) => c.latestTableName).join(', ')}); Ctrl-C stops it`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      return EXIT.ok;
    },
  },
];
