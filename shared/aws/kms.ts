import type { KMSClient } from '@aws-sdk/client-kms';
import type { HistoryConfig } from '../core/config';
import { ConfigurationError } from '../core/errors';
import type { MacKey } from '../core/mac';

/**
 * The KMS client module, loaded on first use: only rollbacks call KMS, so a
 * cold start of writeHistory or rollback does not pay for loading it.
 */
type KmsModule = typeof import('@aws-sdk/client-kms');
let kmsModule: KmsModule | undefined;
// A plain lazy require, the same in the Lambda bundle (CommonJS), under tsx and under Jest.
export const loadKms = async (): Promise<KmsModule> => {
  kmsModule ??= require('@aws-sdk/client-kms') as KmsModule;
  return kmsModule;
};

/**
 * A KMS HMAC key (key spec HMAC_256, usage GENERATE_VERIFY_MAC). The key never
 * leaves KMS; IAM decides who may call GenerateMac and who only VerifyMac.
 */
export class KmsMacKey implements MacKey {
  private client: KMSClient | undefined;

  constructor(
    readonly keyId: string,
    client?: KMSClient,
  ) {
    this.client = client;
  }

  private async kms(): Promise<KMSClient> {
    this.client ??= new (await loadKms()).KMSClient({});
    return this.client;
  }

  async mac(message: Uint8Array): Promise<Uint8Array> {
    const { GenerateMacCommand } = await loadKms();
    const out = await (await this.kms()).send(
      new GenerateMacCommand({ KeyId: this.keyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    if (!out.Mac) throw new Error(`KMS returned no MAC for ${this.keyId}`);
    return out.Mac;
  }

  async verify(message: Uint8Array, mac: Uint8Array): Promise<boolean> {
    const { VerifyMacCommand } = await loadKms();
    try {
      const out = await (await this.kms()).send(
        new VerifyMacCommand({ KeyId: this.keyId, Message: message, Mac: mac, MacAlgorithm: 'HMAC_SHA_256' }),
      );
      return out.MacValid === true;
    } catch (error) {
      // KMS answers a wrong MAC with this exception, not with MacValid: false.
      if ((error as Error).name === 'KMSInvalidMacException') return false;
      throw error;
    }
  }
}

/**
 * Sets the label key from `LABEL_KMS_KEY_ID` (AWS) when the configuration has none
 * from `LABEL_SECRET` (local), and refuses to go on without one.
 * @throws ConfigurationError
 */
export function requireLabelKey(
  config: HistoryConfig,
  env: NodeJS.ProcessEnv,
  client?: KMSClient,
): HistoryConfig {
  const keyId = env.LABEL_KMS_KEY_ID?.trim();
  if (keyId) return { ...config, labelKey: new KmsMacKey(keyId, client) };
  if (config.labelKey) return config;
  throw new ConfigurationError(
    'no rollback label key: set LABEL_KMS_KEY_ID (a KMS HMAC_256 key) or, locally, LABEL_SECRET',
  );
}
