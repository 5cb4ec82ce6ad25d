import { createDynamoClient } from '../shared/aws/clients';
import { loadConfig } from '../shared/core/config';
import { createLogger } from '../shared/core/logger';
import { parseRollbackRequest, type RollbackResult, RollbackService } from '../shared/writing/rollback';

const service = new RollbackService({ client: createDynamoClient(), config: loadConfig() });
const logger = createLogger('rollback');

/**
 * Invocation contract (README, "Rollback"). Errors are thrown: Lambda reports
 * them with `errorType` = the class name (ValidationError, VersionNotFoundError,
 * ItemNotFoundError, VersionConflictError), and nothing has been written.
 */
export const handler = async (event: unknown): Promise<RollbackResult> => {
  const request = parseRollbackRequest(event);
  try {
    const result = await service.rollback(request);
    logger.info('rollback', {
      key: result.key,
      restoredVersion: result.restoredVersion,
      newVersion: result.newVersion,
      dryRun: result.dryRun,
    });
    return result;
  } catch (error) {
    logger.warn('rollback refused', { key: request.key, toVersion: request.toVersion, error: String(error) });
    throw error;
  }
};
