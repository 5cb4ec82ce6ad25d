import { readFileSync, writeFileSync } from 'node:fs';
import { ValidationError } from '../../shared/core/errors';
import {
  checkDigest,
  generateDigestKey,
  KeyFileSigner,
  parseDigest,
  publicKeyCheck,
  serializeDigest,
  signDigest,
} from '../../shared/integrity/digest';
import { DirectoryDigestStore, digestName } from '../../shared/integrity/digest-store';
import { Verifier } from '../../shared/integrity/verify';
import { type CommandSpec, opt } from '../command';
import { findingRows } from '../format';
import { EXIT, int, printer } from '../io';
import { openSession } from '../session';

function required(value: string | undefined, option: string, action: string): string {
  if (!value) throw new ValidationError(`digest ${action} needs --${option}`);
  return value;
}

/** `digest keygen | publish | check` (README, "Signed digests"). */
export const digestCommands: CommandSpec[] = [
  {
    name: 'digest',
    summary: 'sign and check digests of every chain head (keygen, publish, check)',
    args: [{ name: 'action', description: 'keygen, publish or check' }],
    options: [
      { flags: '--key-file <file>', description: 'keygen, publish: the Ed25519 private key file' },
      {
        flags: '--public-key <file>',
        description: 'check: the public key, PEM or DER (aws kms get-public-key)',
      },
      { flags: '--store <dir>', description: 'publish, check: the folder of digests' },
      { flags: '--name <name>', description: 'check: which digest (default: the newest)' },
      { flags: '--segments <n>', description: 'publish: parallel Scan segments' },
    ],
    run: async (io, [action], options) => {
      if (action === 'keygen') {
        const file = required(opt(options, 'keyFile'), 'key-file', action);
        const pair = generateDigestKey();
        writeFileSync(file, pair.privateKeyPem, { flag: 'wx', mode: 0o600 });
        writeFileSync(`${file}.pub`, pair.publicKeyPem, { flag: 'wx', mode: 0o644 });
        printer(io, options.json ?? false)(
          { keyFile: file, publicKeyFile: `${file}.pub` },
          () => `wrote ${file} (keep it secret) and ${file}.pub`,
        );
        return EXIT.ok;
      }
      if (action !== 'publish' && action !== 'check')
        throw new ValidationError(`digest takes keygen, publish or check, got "${action}"`);
      const session = openSession(io, options);
      const config = session.config();
      const { client, print } = session;
      if (action === 'publish') {
        const signer = new KeyFileSigner(
          readFileSync(required(opt(options, 'keyFile'), 'key-file', action), 'utf8'),
        );
        const store = new DirectoryDigestStore(required(opt(options, 'store'), 'store', action));
        const report = await new Verifier({ client, config }).verifyAll({
          segments: int(opt(options, 'segments'), '--segments'),
        });
        const takenAt = new Date();
        const signed = await signDigest(report, config, signer, takenAt);
        const where = await store.put(digestName(takenAt), serializeDigest(signed));
        print(
          {
            stored: where,
            digest: report.digest,
            items: report.items,
            records: report.records,
            findings: report.findings.length,
          },
          () =>
            `signed digest ${report.digest} of ${report.items} item(s), ${report.records} record(s); stored ${where}` +
            (report.findings.length > 0
              ? `\nverify found ${report.findings.length} finding(s): run verify`
              : ''),
        );
        return report.findings.length > 0 ? EXIT.findings : EXIT.ok;
      }
      // PEM (a key file's .pub) or DER (what `aws kms get-public-key` returns, base64-decoded).
      const keyBytes = readFileSync(required(opt(options, 'publicKey'), 'public-key', action));
      const pem = keyBytes.subarray(0, 10).toString('latin1') === '-----BEGIN';
      const check = publicKeyCheck(pem ? keyBytes.toString('utf8') : new Uint8Array(keyBytes));
      const dir = required(opt(options, 'store'), 'store', action);
      const store = new DirectoryDigestStore(dir);
      const name = opt(options, 'name') ?? (await store.latest());
      if (!name) throw new ValidationError(`no digest in ${dir}`);
      const result = await checkDigest(parseDigest(await store.get(name)), {
        client,
        config,
        verifySignature: check,
      });
      print({ name, ...result }, () => {
        const lines = [
          `digest ${name} (taken ${result.takenAt}): ${result.checked} chain head(s) checked, ${result.expired} expired, ${result.findings.length} finding(s)`,
        ];
        if (result.findings.length > 0) lines.push(findingRows(result.findings));
        return lines.join('\n');
      });
      return result.findings.length > 0 ? EXIT.findings : EXIT.ok;
    },
  },
];
