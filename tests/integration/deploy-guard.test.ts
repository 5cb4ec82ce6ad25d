import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { ensureAllTables } from '../../local/tables';
import DeployGuard from '../../resources/deploy-guard-plugin.js';
import { resources } from '../../resources/tables.js';
import { deploymentProblems } from '../../shared/core/deploy-guard.js';
import { testClient } from '../helpers/dynamo';

// The deploy guard against real DescribeTable answers (DynamoDB Local); only CloudFormation's list of
// the stack's resources is given by hand, as there is no CloudFormation here.
let client: DynamoDBClient;
beforeAll(() => {
  client = testClient();
});
afterAll(() => client.destroy());

type Template = { Resources: Record<string, { Type?: string; Properties?: { TableName?: string } }> };

async function describeAll(template: Template): Promise<Map<string, never>> {
  const existing = new Map<string, never>();
  for (const r of Object.values(template.Resources)) {
    const name = r.Properties?.TableName;
    if (r.Type !== 'AWS::DynamoDB::Table' || !name) continue;
    try {
      existing.set(name, (await client.send(new DescribeTableCommand({ TableName: name }))).Table as never);
    } catch {
      // absent
    }
  }
  return existing;
}

const ownedBy = (template: Template) =>
  new Map(
    Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
      .map(([id, r]) => [r.Properties?.TableName as string, id]),
  );

it('lets an unchanged template through, and refuses one that would replace a table by its key', async () => {
  const stage = `g${randomUUID().slice(0, 8)}`;
  await ensureAllTables(client, { stage, keyAttributes: 'id' });
  const same = { Resources: resources({ stage, keyAttributes: 'id' }) } as Template;
  expect(
    deploymentProblems({
      template: same,
      existing: await describeAll(same),
      owned: ownedBy(same),
      stackName: 's',
    }),
  ).toEqual([]);

  const rekeyed = { Resources: resources({ stage, keyAttributes: 'pk,sk:N' }) } as Template;
  const problems = deploymentProblems({
    template: rekeyed,
    existing: await describeAll(rekeyed),
    owned: ownedBy(same),
    stackName: 's',
  });
  expect(problems).toEqual([
    `deploying would replace table dynamo-history-${stage}-latest (key id:S:HASH → key pk:S:HASH,sk:N:RANGE); refused: a recorded or history table is never replaced. Keep the stage's settings as they were, or deploy another stage`,
  ]);
});

it('names the retained tables a redeploy after `serverless remove` would run into', async () => {
  const stage = `g${randomUUID().slice(0, 8)}`;
  await ensureAllTables(client, { stage, keyAttributes: 'id' });
  const template = { Resources: resources({ stage, keyAttributes: 'id' }) } as Template;
  const problems = deploymentProblems({
    template,
    existing: await describeAll(template),
    owned: undefined,
    stackName: 'gone',
  });
  expect(problems).toHaveLength(3);
  expect(problems[0]).toContain(
    `table dynamo-history-${stage}-latest already exists but is not part of stack gone`,
  );
  expect(problems[0]).toContain('import it into the stack as LatestTable');
});

it('checks each attached table’s stream against its settings', async () => {
  const name = `att-${randomUUID().slice(0, 8)}`;
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: name });
  const describe = async () =>
    new Map([[name, (await client.send(new DescribeTableCommand({ TableName: name }))).Table as never]]);
  const template = { Resources: {} };
  expect(
    deploymentProblems({
      template,
      existing: await describe(),
      owned: new Map(),
      stackName: 's',
      attached: [{ latest: name }],
    }),
  ).toEqual([expect.stringContaining(`attached table ${name} has a KEYS_ONLY stream`)]);
  await client.send(
    new UpdateTableCommand({ TableName: name, StreamSpecification: { StreamEnabled: false } }),
  );
  await client.send(
    new UpdateTableCommand({
      TableName: name,
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const old = `arn:aws:dynamodb:ddblocal:000000000000:table/${name}/stream/2020-01-01T00:00:00.000`;
  expect(
    deploymentProblems({
      template,
      existing: await describe(),
      owned: new Map(),
      stackName: 's',
      attached: [{ latest: name, stream: old }],
    }),
  ).toEqual([expect.stringContaining(`run \`dynamo-history init --table ${name}\` again`)]);
  expect(
    deploymentProblems({
      template,
      existing: new Map(),
      owned: new Map(),
      stackName: 's',
      attached: [{ latest: 'Nope' }],
    }),
  ).toEqual(['attached table Nope does not exist in this account and region']);
});

it('stops `serverless deploy` before CloudFormation when a table would be replaced', async () => {
  const stage = `g${randomUUID().slice(0, 8)}`;
  await ensureAllTables(client, { stage, keyAttributes: 'id' });
  const settings = join(tmpdir(), `${stage}.json`);
  writeFileSync(settings, JSON.stringify({ keyAttributes: 'pk,sk' }));
  process.env.DYNAMO_HISTORY_CONFIG = settings;
  const template = { Resources: resources({ stage, keyAttributes: 'pk,sk' }) };
  const owned = ownedBy({ Resources: resources({ stage, keyAttributes: 'id' }) } as Template);
  const calls: string[] = [];
  // The AWS provider's request(), answered by DynamoDB Local for DynamoDB and by the list above for CloudFormation.
  const provider = {
    naming: { getStackName: () => `dynamo-history-${stage}` },
    getStage: () => stage,
    request: async (service: string, method: string, params: { TableName?: string }) => {
      calls.push(`${service}.${method}`);
      if (service === 'DynamoDB' && method === 'describeTable')
        return client.send(new DescribeTableCommand({ TableName: params.TableName }));
      if (service === 'CloudFormation' && method === 'listStackResources')
        return {
          StackResourceSummaries: [...owned].map(([PhysicalResourceId, LogicalResourceId]) => ({
            PhysicalResourceId,
            LogicalResourceId,
            ResourceType: 'AWS::DynamoDB::Table',
          })),
        };
      throw new Error(`unexpected ${service}.${method}`);
    },
  };
  const guard = new DeployGuard({
    getProvider: () => provider,
    service: { service: 'dynamo-history', provider: { compiledCloudFormationTemplate: template as never } },
    classes: { Error },
  });
  try {
    await expect(guard.hooks['before:aws:deploy:deploy:createStack']()).rejects.toThrow(
      `dynamo-history refused the deploy of dynamo-history-${stage}; nothing was changed:\n- deploying would replace table dynamo-history-${stage}-latest`,
    );
  } finally {
    delete process.env.DYNAMO_HISTORY_CONFIG;
  }
  // It only read.
  expect(new Set(calls)).toEqual(new Set(['DynamoDB.describeTable', 'CloudFormation.listStackResources']));
});
