import {
  type AttributeValue,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  ScanCommand,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { parseKeyAttributes } from '../core/config';
import { TableNotAttachableError } from '../core/errors';
import { decodeItemKey, encodeItemKey, keyOf } from '../core/keys';

/** What attaching needs to know of an existing table, read with DescribeTable (never typed by hand). */
export interface TableInspection {
  table: string;
  /** The key schema as KEY_ATTRIBUTES writes it: `id`, `pk:S,sk:N`. */
  key: string;
  streamArn: string;
  itemCount: number | undefined;
}

/** The command that turns on the stream attaching needs; the user runs it, never this service. */
export const streamFixCommand = (table: string, where: { region?: string; endpointUrl?: string }): string =>
  `aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES${awsCliTarget(where)}`;

/** `--region` and, for a local endpoint, `--endpoint-url`, as the AWS CLI takes them. */
const awsCliTarget = ({ region, endpointUrl }: { region?: string; endpointUrl?: string }): string =>
  `${region ? ` --region ${region}` : ''}${endpointUrl ? ` --endpoint-url ${endpointUrl}` : ''}`;

/** `pk:S,sk:N` from DescribeTable's KeySchema and AttributeDefinitions. */
export function keySpecOf(description: TableDescription): string {
  const types = new Map(
    (description.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]),
  );
  const ordered = [...(description.KeySchema ?? [])].sort((a, b) =>
    a.KeyType === 'HASH' ? -1 : b.KeyType === 'HASH' ? 1 : 0,
  );
  return ordered.map((k) => `${k.AttributeName}:${types.get(k.AttributeName) ?? 'S'}`).join(',');
}

/**
 * Reads an existing table and checks that its stream carries what history needs:
 * enabled, with NEW_AND_OLD_IMAGES. It only reads: a table that is not ready gets
 * an error with the command that makes it so.
 * @throws TableNotAttachableError (`table.notFound`, `table.noStream`, `table.streamView`)
 */
export async function inspectTable(
  client: DynamoDBClient,
  table: string,
  where: { endpoint: string; region?: string; endpointUrl?: string },
): Promise<TableInspection> {
  let description: TableDescription | undefined;
  try {
    description = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException)
      throw new TableNotAttachableError(
        'table.notFound',
        `table ${table} does not exist at ${where.endpoint}`,
        {
          table,
          fix: 'check the name, AWS_REGION and AWS_ENDPOINT_URL_DYNAMODB (or your credentials’ account)',
        },
        { cause: error },
      );
    throw error;
  }
  if (!description)
    throw new TableNotAttachableError('table.notFound', `table ${table} has no description`, { table });
  const stream = description.StreamSpecification;
  const streamArn = description.LatestStreamArn;
  if (!stream?.StreamEnabled || !streamArn)
    throw new TableNotAttachableError(
      'table.noStream',
      `table ${table} has no stream, so its changes cannot be recorded. dynamo-history never changes your table: turn the stream on yourself`,
      { table, fix: streamFixCommand(table, where) },
    );
  if (stream.StreamViewType !== 'NEW_AND_OLD_IMAGES')
    throw new TableNotAttachableError(
      'table.streamView',
      `the stream of ${table} is ${stream.StreamViewType}; history needs NEW_AND_OLD_IMAGES (every version's whole image). A stream's view cannot be changed in place: turn it off, then on with NEW_AND_OLD_IMAGES (records still in the old stream stay readable for 24 hours; record them first or backfill afterwards)`,
      {
        table,
        fix: `aws dynamodb update-table --table-name ${table} --stream-specification StreamEnabled=false${awsCliTarget(where)} && ${streamFixCommand(table, where)}`,
      },
    );
  return { table, key: keySpecOf(description), streamArn, itemCount: description.ItemCount };
}

/**
 * Checks that an existing history table (one kept from an earlier deployment) was written
 * for a table keyed the way this one is now. Every sampled record must decode under the
 * key, and each stored image must carry the key's attributes, with its types, encoding to
 * the record's item key. A history table that does not exist yet passes.
 * @throws TableNotAttachableError (`table.keyMismatch`)
 */
export async function checkHistoryKey(
  client: DynamoDBClient,
  inspection: TableInspection,
  historyTable: string,
): Promise<void> {
  let items: Record<string, AttributeValue>[];
  try {
    const out = await client.send(
      new ScanCommand({ TableName: historyTable, Limit: 25, ProjectionExpression: 'itemKey, image' }),
    );
    items = out.Items ?? [];
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return;
    throw error;
  }
  const schema = parseKeyAttributes(inspection.key);
  for (const item of items) {
    const itemKey = item.itemKey?.S ?? '';
    const image = item.image?.M;
    let fits: boolean;
    try {
      decodeItemKey(itemKey, schema);
      fits = image === undefined || encodeItemKey(keyOf(image, schema), schema) === itemKey;
    } catch {
      fits = false;
    }
    if (!fits)
      throw new TableNotAttachableError(
        'table.keyMismatch',
        `${historyTable} already holds history whose item keys (such as ${JSON.stringify(itemKey.slice(0, 100))}) do not fit the key of ${inspection.table} (${inspection.key}): it is another table's history`,
        {
          table: inspection.table,
          fix: `attach it under another stage, or move ${historyTable} aside first`,
        },
      );
  }
}
