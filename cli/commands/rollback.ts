import { unmarshall } from '@aws-sdk/util-dynamodb';
import { decodeItemKey } from '../../shared/core/keys';
import { parseRollbackRequest, RollbackService } from '../../shared/writing/rollback';
import { type CommandSpec, opt } from '../command';
import { EXIT, int, versionArg } from '../io';
import { openSession } from '../session';

export const rollbackCommands: CommandSpec[] = [
  {
    name: 'rollback',
    summary: 'write an old version back as a new one, through the version check',
    args: [
      { name: 'itemKey', description: 'the history item key' },
      { name: 'toVersion', description: 'the version to restore (3, v3 or v0003)' },
    ],
    options: [
      { flags: '--expected-version <n>', description: 'refuse unless the item is at this version now' },
      { flags: '--actor <name>', description: 'who asks (recorded as claimed)' },
      { flags: '--reason <text>', description: 'why (recorded)' },
      { flags: '--dry-run', description: 'show what would be written, write nothing' },
    ],
    more: 'The label is sealed with LABEL_KMS_KEY_ID (AWS), LABEL_SECRET, or the npm start stack’s .dynamodb/label-secret.',
    run: async (io, [key, toVersion], options) => {
      const session = openSession(io, options);
      const reader = session.reader();
      const itemKey = reader.checkItemKey(key);
      const config = session.labelled();
      const request = parseRollbackRequest({
        key: unmarshall(decodeItemKey(itemKey, config.keySchema)),
        toVersion: versionArg(toVersion, 'toVersion'),
        expectedVersion: int(opt(options, 'expectedVersion'), '--expected-version', 0),
        actor: opt(options, 'actor'),
        reason: opt(options, 'reason'),
        dryRun: options.dryRun === true ? true : undefined,
      });
      const result = await new RollbackService({ client: session.client, config }).rollback(request);
      session.print(
        result,
        () =>
          `${result.dryRun ? 'dry run: would restore' : 'restored'} ${itemKey} v${result.restoredVersion} as v${result.newVersion}` +
          ` (was v${result.previousVersion})${result.image ? '' : ': the item is deleted'}`,
      );
      return EXIT.ok;
    },
  },
];
