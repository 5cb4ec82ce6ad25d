import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { preserveProtoAttributes } from './sdk-proto-fix';

/**
 * Builds the DynamoDB client from the SDK's own configuration chain: region and
 * credentials from the usual sources, the endpoint from `AWS_ENDPOINT_URL_DYNAMODB`
 * / `AWS_ENDPOINT_URL`. Nothing here knows whether it runs locally. It carries the
 * SDK workaround of `sdk-proto-fix.ts`. (The streams client is the local mapping's
 * and the tests' own: in AWS, Lambda reads the stream.)
 */
export function createDynamoClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return preserveProtoAttributes(new DynamoDBClient({ maxAttempts: 3, ...config }));
}
