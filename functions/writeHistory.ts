import type { DynamoDBBatchResponse } from 'aws-lambda';
import { createDynamoClient } from '../shared/aws/clients';
import { requireLabelKey } from '../shared/aws/kms';
import { lambdaLogger } from '../shared/aws/lambda-logger';
import { emfLine } from '../shared/aws/metrics';
import { loadConfigs, loadRuntime } from '../shared/core/config';
import { MalformedRecordError } from '../shared/core/errors';
import { StreamRecorder } from '../shared/recording/recorder';

// Built once per container: configuration is checked at cold start and fails fast.
const runtime = loadRuntime();
const dimensions = { Service: runtime.service, Stage: runtime.stage };
const logger = lambdaLogger('writeHistory', runtime.logLevel);
// Each recorded table's writer takes only its own stream's records (README, "Threat model").
const writer = new StreamRecorder({
  client: createDynamoClient(),
  configs: loadConfigs().map((config) => requireLabelKey(config, process.env)),
  logger,
});

/** DynamoDB Streams → history tables, with a partial batch response (ReportBatchItemFailures). */
export const handler = async (event: unknown, context?: unknown): Promise<DynamoDBBatchResponse> => {
  logger.withContext(context);
  const records = (event as { Records?: unknown } | null)?.Records;
  // Lambda never sends this; failing loudly beats reporting success for records never seen.
  if (!Array.isArray(records))
    throw new MalformedRecordError('event has no Records array: not a DynamoDB stream event');
  const { batchItemFailures, stats } = await writer.recordBatch(records);
  process.stdout.write(
    `${emfLine(dimensions, { Received: stats.received, Recorded: stats.recorded, DuplicatesSkipped: stats.duplicates, Parked: stats.parked, Retried: stats.retried, VersionsExpiring: stats.expiring })}\n`,
  );
  return { batchItemFailures };
};
