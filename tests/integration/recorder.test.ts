import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { StreamRecorder } from '../../shared/recording/recorder';
import { createTestTables, readHistory, testClient } from '../helpers/dynamo';
import { streamRecord } from '../helpers/stream-records';

// writeHistory over two attached tables: each record goes to its own table's history, whatever the
// batch mixes, and a record of a stream it does not record is parked, never recorded anywhere.
let client: DynamoDBClient;
beforeAll(() => {
  client = testClient();
});
afterAll(() => client.destroy());

const arn = (t: string) =>
  `arn:aws:dynamodb:us-east-1:123456789012:table/${t}/stream/2026-01-01T00:00:00.000`;

it('routes each record to the history of the table whose stream it names, and parks a foreign one', async () => {
  const a = await createTestTables(client);
  const b = await createTestTables(client);
  const configs = [
    { ...a.config, streamArn: arn('Orders') },
    { ...b.config, streamArn: arn('Customers') },
  ];
  const recorder = new StreamRecorder({ client, configs });
  const now = Math.floor(Date.now() / 1000);
  const change = (table: string, id: string, version: number) =>
    streamRecord({
      arn: arn(table),
      at: now,
      op: version === 1 ? 'INSERT' : 'MODIFY',
      keys: { id: { S: id } },
      newImage: { id: { S: id }, version: { N: String(version) }, table: { S: table } },
    });
  // The same item key in both tables, interleaved in one batch, and one record of a third stream.
  const { batchItemFailures, stats } = await recorder.recordBatch([
    change('Orders', 'x', 1),
    change('Customers', 'x', 1),
    change('Orders', 'x', 2),
    change('Elsewhere', 'ghost', 1),
    change('Customers', 'x', 2),
  ]);
  expect(batchItemFailures).toEqual([]);
  expect(stats).toMatchObject({ received: 5, recorded: 4, parked: 1 });
  const tableOf = async (historyTable: string) =>
    (await readHistory(client, historyTable, 'x')).map((r) => [
      r.versionNumber,
      (r.image?.table as { S?: string })?.S,
    ]);
  expect(await tableOf(a.config.historyTableName)).toEqual([
    [1, 'Orders'],
    [2, 'Orders'],
  ]);
  expect(await tableOf(b.config.historyTableName)).toEqual([
    [1, 'Customers'],
    [2, 'Customers'],
  ]);
  // The foreign record is parked (with the first table's writer), and in neither history.
  const parked = (await client.send(new ScanCommand({ TableName: a.config.failuresTableName }))).Items ?? [];
  expect(parked.map((p) => p.errorCode?.S)).toEqual(['record.foreignStream']);
  expect(await readHistory(client, a.config.historyTableName, 'ghost')).toEqual([]);
  expect(await readHistory(client, b.config.historyTableName, 'ghost')).toEqual([]);
});
