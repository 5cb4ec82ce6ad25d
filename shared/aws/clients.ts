import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient, type DynamoDBStreamsClientConfig } from '@aws-sdk/client-dynamodb-streams';
import { preserveProtoAttributes } from './sdk-proto-fix';

/**
 * Builds SDK clients from the SDK's own configuration chain: region and
 * credentials from the usual sources, endpoints from `AWS_ENDPOINT_URL_DYNAMODB`
 * / `AWS_ENDPOINT_URL_DYNAMODB_STREAMS` / `AWS_ENDPOINT_URL`. Nothing here knows
 * whether it runs locally. Both carry the SDK workaround of `sdk-proto-fix.ts`.
 */
export function createDynamoClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return preserveProtoAttributes(new DynamoDBClient({ maxAttempts: 3, ...config }));
}

export function createStreamsClient(config: DynamoDBStreamsClientConfig = {}): DynamoDBStreamsClient {
  // DynamoDB Local serves streams on its one endpoint; when only the DynamoDB
  // endpoint is set, use it for streams too rather than reach for AWS.
  const endpoint =
    config.endpoint ??
    (process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ? undefined : process.env.AWS_ENDPOINT_URL_DYNAMODB);
  return preserveProtoAttributes(new DynamoDBStreamsClient({ ...config, ...(endpoint ? { endpoint } : {}) }));
}
