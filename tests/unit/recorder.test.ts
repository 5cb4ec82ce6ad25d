import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfigs } from '../../shared/core/config';
import { ConfigurationError } from '../../shared/core/errors';
import { StreamRecorder } from '../../shared/recording/recorder';

// writeHistory's router refuses, at cold start, tables it could not tell apart by stream.
const arn = (t: string) =>
  `arn:aws:dynamodb:us-east-1:123456789012:table/${t}/stream/2026-01-01T00:00:00.000`;
const client = new DynamoDBClient({ region: 'us-east-1' });
afterAll(() => client.destroy());

it('refuses two tables on one stream, and no table at all', () => {
  const configs = loadConfigs({
    RECORDED_TABLES: JSON.stringify([
      { latest: 'Orders', history: 'hist-a', failures: 'fail-a', key: 'id', stream: arn('Orders') },
      { latest: 'Other', history: 'hist-b', failures: 'fail-b', key: 'id', stream: arn('Orders') },
    ]),
  });
  expect(() => new StreamRecorder({ client, configs })).toThrow(ConfigurationError);
  expect(() => new StreamRecorder({ client, configs: [] })).toThrow(ConfigurationError);
  expect(() => new StreamRecorder({ client, configs: configs.slice(0, 1) })).not.toThrow();
});
