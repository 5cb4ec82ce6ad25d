/**
 * The writer library's public surface: what an application imports to write
 * its latest table with optimistic locking. Everything else in `shared/` is the
 * service's own.
 */
export { createDynamoClient } from '../aws/clients';
export { type HistoryConfig, loadConfig, type ManagedAttributes } from '../core/config';
export {
  HistoryError,
  ItemExistsError,
  ItemNotFoundError,
  ValidationError,
  VersionConflictError,
} from '../core/errors';
export type { KeySchema } from '../core/types';
export {
  type Item,
  type RetryOptions,
  retryOnConflict,
  VersionedCommands,
  VersionedTable,
  type VersionedTableOptions,
  type WriteOptions,
} from './versioned-table';
