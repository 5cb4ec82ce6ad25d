import type { KMSClient } from '@aws-sdk/client-kms';
import { KmsMacKey, requireLabelKey } from '../../shared/aws/kms';
import { loadConfig } from '../../shared/core/config';
import { ConfigurationError } from '../../shared/core/errors';

// The KMS label key's requests and its reading of KMS's answers, against a stand-in client
// (no AWS account here; the local HMAC key runs the same contract in every integration test).
function stubClient(answer: (input: Record<string, unknown>, command: string) => unknown) {
  const sent: { command: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ command: command.constructor.name, input: command.input });
      return answer(command.input, command.constructor.name);
    },
  } as unknown as KMSClient;
  return { client, sent };
}

describe('KmsMacKey', () => {
  const message = new TextEncoder().encode('label');

  it('asks KMS for an HMAC_SHA_256 MAC with its key and returns it', async () => {
    const { client, sent } = stubClient(() => ({ Mac: new Uint8Array([1, 2, 3]) }));
    const key = new KmsMacKey('arn:aws:kms:eu-west-1:123456789012:key/abc', client);
    expect(await key.mac(message)).toEqual(new Uint8Array([1, 2, 3]));
    expect(sent).toEqual([
      {
        command: 'GenerateMacCommand',
        input: {
          KeyId: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
          Message: message,
          MacAlgorithm: 'HMAC_SHA_256',
        },
      },
    ]);
  });

  it('reads KMS’s KMSInvalidMacException as “not valid” and MacValid as valid', async () => {
    const invalid = Object.assign(new Error('bad mac'), { name: 'KMSInvalidMacException' });
    const { client: refusing } = stubClient(() => {
      throw invalid;
    });
    expect(await new KmsMacKey('k', refusing).verify(message, new Uint8Array(32))).toBe(false);
    const { client: accepting, sent } = stubClient(() => ({ MacValid: true }));
    expect(await new KmsMacKey('k', accepting).verify(message, new Uint8Array([9]))).toBe(true);
    expect(sent[0]).toMatchObject({
      command: 'VerifyMacCommand',
      input: { KeyId: 'k', MacAlgorithm: 'HMAC_SHA_256' },
    });
  });

  it('lets any other KMS failure through, to be retried, never read as “not valid”', async () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    const { client } = stubClient(() => {
      throw throttled;
    });
    await expect(new KmsMacKey('k', client).verify(message, new Uint8Array(32))).rejects.toBe(throttled);
  });
});

describe('requireLabelKey', () => {
  it('prefers LABEL_KMS_KEY_ID, takes LABEL_SECRET, and refuses neither', () => {
    const kms = requireLabelKey(loadConfig({ LABEL_SECRET: 'ab'.repeat(32) }), {
      LABEL_KMS_KEY_ID: 'alias/x',
    });
    expect(kms.labelKey?.keyId).toBe('alias/x');
    expect(requireLabelKey(loadConfig({ LABEL_SECRET: 'ab'.repeat(32) }), {}).labelKey?.keyId).toBe('local');
    expect(() => requireLabelKey(loadConfig({}), {})).toThrow(ConfigurationError);
  });

  it('refuses a secret too short to be a key', () => {
    expect(() => loadConfig({ LABEL_SECRET: 'abcd' })).toThrow(/at least 32 random bytes/);
  });
});
