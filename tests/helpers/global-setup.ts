import { freePort, startDynamoLocal } from '../../local/dynamodb-local';

/** Starts one in-memory DynamoDB Local for the integration tests, on a free port. */
export default async function globalSetup(): Promise<void> {
  const port = await freePort();
  const local = await startDynamoLocal({
    port,
    inMemory: true,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.env.DYNAMODB_TEST_ENDPOINT = local.endpoint;
  (globalThis as { __dynamoLocal?: typeof local }).__dynamoLocal = local;
}
