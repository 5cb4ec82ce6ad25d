import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
// The same CloudFormation definitions serverless.yml deploys: one source of truth.
import { resources } from '../resources/tables.js';

type CfnTable = { Type: string; Properties: Record<string, unknown> };

/** Turns a CloudFormation table resource into a CreateTable input DynamoDB Local accepts. */
export function createTableInput(resource: CfnTable): CreateTableCommandInput {
  const {
    TableName,
    AttributeDefinitions,
    KeySchema,
    LocalSecondaryIndexes,
    GlobalSecondaryIndexes,
    StreamSpecification,
    BillingMode,
  } = resource.Properties as unknown as CreateTableCommandInput & {
    StreamSpecification?: { StreamViewType: string };
  };
  return {
    TableName,
    AttributeDefinitions,
    KeySchema,
    BillingMode,
    ...(LocalSecondaryIndexes ? { LocalSecondaryIndexes } : {}),
    ...(GlobalSecondaryIndexes ? { GlobalSecondaryIndexes } : {}),
    ...(StreamSpecification
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: StreamSpecification.StreamViewType } }
      : {}),
  } as CreateTableCommandInput;
}

/**
 * Adds the global secondary indexes a table made by an older version lacks (a kept `.dynamodb/`
 * from before `byActivity`), as CloudFormation adds a new GSI to a deployed table: in place.
 */
async function addMissingIndexes(
  client: DynamoDBClient,
  input: CreateTableCommandInput,
  existing: TableDescription,
): Promise<void> {
  const have = new Set((existing.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of input.GlobalSecondaryIndexes ?? []) {
    if (have.has(index.IndexName)) continue;
    const used = new Set(index.KeySchema?.map((k) => k.AttributeName));
    await client.send(
      new UpdateTableCommand({
        TableName: input.TableName,
        AttributeDefinitions: input.AttributeDefinitions?.filter((a) => used.has(a.AttributeName)),
        GlobalSecondaryIndexUpdates: [
          {
            Create: { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection },
          },
        ],
      }),
    );
    for (let i = 0; i < 120; i++) {
      const out = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
      const status = out.Table?.GlobalSecondaryIndexes?.find((g) => g.IndexName === index.IndexName);
      if (status?.IndexStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export interface TableSet {
  latest: string;
  history: string;
  failures: string;
}

function sameKeySchema(
  a: CreateTableCommandInput,
  b: { KeySchema?: { AttributeName?: string; KeyType?: string }[] },
): boolean {
  const fmt = (ks: { AttributeName?: string; KeyType?: string }[] | undefined) =>
    JSON.stringify((ks ?? []).map((k) => [k.AttributeName, k.KeyType]));
  return fmt(a.KeySchema) === fmt(b.KeySchema);
}

/**
 * Creates every table `resources/` defines for these options, idempotently: the latest,
 * history and failures tables, or, for attached tables, each one's history and failures
 * tables. An existing table with another key schema is an error, not silently reused.
 * @returns the names of the tables, by logical id
 */
export async function ensureAllTables(
  client: DynamoDBClient,
  options: Parameters<typeof resources>[0] = {},
): Promise<Record<string, string>> {
  const defs = resources(options) as Record<string, CfnTable>;
  const names: Record<string, string> = {};
  for (const [id, def] of Object.entries(defs)) {
    if (def.Type !== 'AWS::DynamoDB::Table') continue;
    const input = createTableInput(def);
    const name = input.TableName as string;
    names[id] = name;
    try {
      const existing = await client.send(new DescribeTableCommand({ TableName: name }));
      if (!sameKeySchema(input, existing.Table ?? {})) {
        throw new Error(
          `table ${name} exists with another key schema (${JSON.stringify(existing.Table?.KeySchema)}); ` +
            'delete it or use another stage (with --in-memory, nothing persists)',
        );
      }
      await addMissingIndexes(client, input, existing.Table ?? {});
      continue;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    await client.send(new CreateTableCommand(input));
    await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1 }, { TableName: name });
    // CreateTable has no TTL parameter; CloudFormation sets it in the same resource.
    const ttl = def.Properties.TimeToLiveSpecification as
      | { AttributeName: string; Enabled: boolean }
      | undefined;
    if (ttl) {
      await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: ttl }));
    }
  }
  return names;
}

/** Creates the created-table mode's latest, history and failures tables (see {@link ensureAllTables}). */
export async function ensureTables(
  client: DynamoDBClient,
  options: {
    service?: string;
    stage?: string;
    keyAttributes?: string;
    retention?: boolean;
    activityIndex?: boolean;
  } = {},
): Promise<TableSet> {
  const names = await ensureAllTables(client, options);
  const { LatestTable: latest, HistoryTable: history, FailuresTable: failures } = names;
  if (!latest || !history || !failures)
    throw new Error('resources/tables.js defines no latest, history or failures table');
  return { latest, history, failures };
}
