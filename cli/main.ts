import { Command, CommanderError } from 'commander';
import type { HistoryConfig } from '../shared/core/config';
import {
  HistoryError,
  ItemNotFoundError,
  TableNotAttachableError,
  ValidationError,
  VersionNotFoundError,
} from '../shared/core/errors';
import type { CommandSpec } from './command';
import { auditCommands } from './commands/audit';
import { consoleCommands } from './commands/console';
import { digestCommands } from './commands/digest';
import { initCommands } from './commands/init';
import { integrityCommands } from './commands/integrity';
import { rollbackCommands } from './commands/rollback';
import { explain } from './hints';
import { EXIT, type Io, printable } from './io';
import { tableInUse } from './session';

export { EXIT, type Io, printable } from './io';

/** Every command, each in its own module under cli/commands/. */
export const COMMANDS: CommandSpec[] = [
  ...auditCommands,
  ...rollbackCommands,
  ...integrityCommands,
  ...digestCommands,
  ...initCommands,
  ...consoleCommands,
];

const FOOTER = `
<itemKey> is the history item key: the plain value for a single string key (order-1),
otherwise the percent-encoded parts joined by "|" (USER%231|ORDER%232).
Configuration comes from the stage's settings file (config/<stage>.json) when there is one, otherwise
from the environment (LATEST_TABLE_NAME, HISTORY_TABLE_NAME, KEY_ATTRIBUTES, ...); endpoints from
AWS_ENDPOINT_URL_DYNAMODB, the region from AWS_REGION or AWS_DEFAULT_REGION.
Exit codes: 0 ok, 1 not found or findings, 2 error. \`dynamo-history <command> --help\` describes one command.`;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** The commander program: one subcommand per spec, each with --table, --stage and --json. */
function buildProgram(io: Io, ran: (code: number) => void): Command {
  const program = new Command('dynamo-history')
    .description('A complete, verifiable history of DynamoDB tables.')
    .usage('<command> [options]')
    .exitOverride()
    .helpCommand(false)
    .configureOutput({
      writeOut: (text) => io.out(text.replace(/\n$/, '')),
      // Errors are reported once, by main, with what to fix.
      writeErr: () => {},
      outputError: () => {},
    })
    .addHelpText('after', FOOTER);
  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.summary);
    for (const arg of spec.args) command.argument(`<${arg.name}>`, arg.description);
    for (const option of spec.options) command.option(option.flags, option.description);
    command
      .option(
        '--table <name>',
        spec.manyTables
          ? 'a table to attach (repeat for several)'
          : 'the recorded table (needed when the stage records several)',
        collect,
      )
      .option(
        '--stage <name>',
        'the stage (default: STAGE, or dev); its settings come from config/<stage>.json',
      )
      .option('--json', 'machine-readable output');
    if (spec.more) command.addHelpText('after', `\n${spec.more}`);
    command.action(async (...params: unknown[]) => {
      const self = params[params.length - 1] as Command;
      ran(await spec.run(io, self.args, self.opts()));
    });
  }
  return program;
}

/** The flags a command takes, as written on the command line. */
const flagsOf = (spec: CommandSpec): string[] => [
  ...spec.options.map((o) => o.flags.split(/[ ,]/)[0] ?? ''),
  '--table',
  '--stage',
  '--json',
  '--help',
];

/** Commander's refusals, said the way the rest of the CLI says things: what is wrong and what to do. */
function usageError(error: CommanderError, argv: string[]): ValidationError {
  const spec = COMMANDS.find((c) => c.name === argv.find((a) => !a.startsWith('-')));
  const help = spec ? `see dynamo-history ${spec.name} --help` : 'see --help';
  const quoted = /'([^']+)'/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'commander.unknownCommand':
      return new ValidationError(`unknown command "${quoted}"; ${help}`);
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      return new ValidationError(
        `${spec?.name} takes ${spec?.args.length} argument(s) (${spec?.args.map((a) => `<${a.name}>`).join(' ')}); ${help}`,
      );
    case 'commander.unknownOption': {
      const flag = quoted.split('=')[0] ?? quoted;
      const elsewhere = COMMANDS.some((c) => c !== spec && flagsOf(c).includes(flag));
      return new ValidationError(
        spec && elsewhere
          ? `${spec.name} does not take ${flag}; ${help}`
          : `Unknown option '${flag}'; ${help}`,
      );
    }
    default:
      return new ValidationError(`${error.message.replace(/^error: /, '')}; ${help}`);
  }
}

/** Runs one CLI command; returns the exit code. Never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  const json = argv.includes('--json');
  let code: number = EXIT.error;
  const program = buildProgram(io, (ran) => {
    code = ran;
  });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.error;
  }
  tableInUse(true);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (thrown) {
    if (
      thrown instanceof CommanderError &&
      (thrown.code === 'commander.helpDisplayed' || thrown.code === 'commander.help')
    )
      return EXIT.ok;
    const error = thrown instanceof CommanderError ? usageError(thrown, argv) : thrown;
    const current: HistoryConfig | undefined = tableInUse();
    const notFound = error instanceof ItemNotFoundError || error instanceof VersionNotFoundError;
    const message =
      explain(error, current, io.env) ??
      // A table that cannot be attached says how to fix it on its second line.
      (error instanceof TableNotAttachableError
        ? error.message
        : error instanceof Error
          ? error.message.split('\n')[0]
          : String(error));
    const errorCode = error instanceof HistoryError ? error.code : 'error';
    if (json)
      io.err(
        JSON.stringify({
          code: errorCode,
          message,
          errorType: error instanceof Error ? error.name : 'Error',
        }),
      );
    else io.err(`dynamo-history: ${printable(message ?? '')}`);
    return notFound ? EXIT.findings : EXIT.error;
  }
}
