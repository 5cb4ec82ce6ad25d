/**
 * The one error hierarchy of dynamo-history. Every error has a stable `code`
 * (tests and transports match on it, never on the message) and a class name
 * ending in `Error`, which Lambda handlers surface as `errorType`.
 */
export class HistoryError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** Input that can never succeed as given: a bad payload, key, version or attribute name. */
export class ValidationError extends HistoryError {
  constructor(
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions & { code?: string },
  ) {
    super(options?.code ?? 'validation', message, details, options);
  }
}

/**
 * An item key whose history key would exceed DynamoDB's 2,048-byte partition key
 * limit once encoded: no history item can hold it. Its stream records are parked.
 */
export class ItemKeyTooLongError extends ValidationError {
  constructor(bytes: number, options?: ErrorOptions) {
    super(
      `the encoded item key is ${bytes} bytes; a history partition key holds at most 2048`,
      { bytes },
      { ...options, code: 'record.keyTooLong' },
    );
  }
}

/**
 * DynamoDB refused to grow an item's history: its item collection (the item's
 * records and their local index entries) reached the 10 GB limit of tables with
 * a local secondary index. Retrying cannot help; the record is parked and alarmed.
 */
export class HistoryFullError extends HistoryError {
  constructor(itemKey: string, options?: ErrorOptions) {
    super(
      'history.itemCollectionFull',
      `the history of ${itemKey} reached DynamoDB's 10 GB item collection limit`,
      { itemKey },
      options,
    );
  }
}

/** An optimistic-locking write lost: the item's version is no longer the one expected. */
export class VersionConflictError extends HistoryError {
  readonly expectedVersion: number;
  /** The version found in the table, when DynamoDB returned it; `undefined` when the item has no version. */
  readonly currentVersion: number | undefined;

  constructor(expectedVersion: number, currentVersion: number | undefined, options?: ErrorOptions) {
    super(
      'version.conflict',
      `Version conflict: expected version ${expectedVersion}, found ${currentVersion ?? 'none'}`,
      { expectedVersion, currentVersion },
      options,
    );
    this.expectedVersion = expectedVersion;
    this.currentVersion = currentVersion;
  }
}

/** `create` found an item with the same key. */
export class ItemExistsError extends HistoryError {
  readonly currentVersion: number | undefined;

  constructor(itemKey: string, currentVersion: number | undefined, options?: ErrorOptions) {
    super(
      'item.exists',
      `Item ${itemKey} already exists (version ${currentVersion ?? 'none'})`,
      { itemKey, currentVersion },
      options,
    );
    this.currentVersion = currentVersion;
  }
}

/** The item is not in the latest table (or has no history at all). */
export class ItemNotFoundError extends HistoryError {
  constructor(itemKey: string, options?: ErrorOptions) {
    super('item.notFound', `Item ${itemKey} not found`, { itemKey }, options);
  }
}

/**
 * A request for a table this deployment does not record (`table.notFound`), or for no table
 * when it records several (`table.required`). `recorded` lists the tables it does record.
 */
export class UnknownTableError extends HistoryError {
  constructor(message: string, recorded: readonly string[], options?: ErrorOptions & { required?: boolean }) {
    super(options?.required ? 'table.required' : 'table.notFound', message, { recorded }, options);
  }
}

/**
 * A table that cannot be attached as it is: missing, without a stream, with the wrong stream
 * view, or keyed other than its existing history. `fix` is the exact command or edit that
 * makes it attachable; nothing was created or written.
 */
export class TableNotAttachableError extends HistoryError {
  constructor(
    code: string,
    message: string,
    details: { table: string; fix?: string },
    options?: ErrorOptions,
  ) {
    super(code, details.fix ? `${message}\n  fix: ${details.fix}` : message, details, options);
  }
}

/** The item exists but has no such version in its history. */
export class VersionNotFoundError extends HistoryError {
  constructor(itemKey: string, version: number | string, options?: ErrorOptions) {
    super('version.notFound', `Item ${itemKey} has no version ${version}`, { itemKey, version }, options);
  }
}

/**
 * History contradicts itself: for example a different record already holds the
 * version a stream record maps to. Never retried; the record is parked.
 */
export class IntegrityError extends HistoryError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super('integrity', message, details, options);
  }
}

/** A stream record that cannot be understood. Parked, never retried. */
export class MalformedRecordError extends HistoryError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super('record.malformed', message, details, options);
  }
}

/** An image too large for one history item even gzip-compressed. Parked, never retried. */
export class ImageTooLargeError extends HistoryError {
  constructor(itemKey: string, bytes: number, options?: ErrorOptions) {
    super(
      'record.imageTooLarge',
      `Image of ${itemKey} is ${bytes} bytes gzip-compressed, over the history item limit`,
      { itemKey, bytes },
      options,
    );
  }
}

/**
 * A stream record that did not come from the stream this writer records: another
 * stream's ARN (`record.foreignStream`), or a time no record still in the stream can
 * carry (`record.outOfWindow`). Parked whole, never retried, never recorded.
 */
export class UntrustedRecordError extends HistoryError {
  constructor(
    code: 'record.foreignStream' | 'record.outOfWindow',
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, details);
  }
}

/** A request that needs the caller's identity and has none (an IAM-authenticated route without one): 403. */
export class UnauthenticatedError extends HistoryError {
  constructor(message: string) {
    super('auth.unauthenticated', message);
  }
}

/** Configuration missing or wrong at cold start. */
export class ConfigurationError extends HistoryError {
  constructor(message: string, options?: ErrorOptions) {
    super('configuration', message, {}, options);
  }
}

/** Errors that retrying the same input cannot fix: the record is parked instead of retried. */
export function isPermanent(error: unknown): boolean {
  return (
    error instanceof MalformedRecordError ||
    error instanceof UntrustedRecordError ||
    error instanceof ImageTooLargeError ||
    error instanceof IntegrityError ||
    error instanceof HistoryFullError ||
    error instanceof ValidationError
  );
}

/** The HTTP status an error answers with (the Lambdas' routes and the console alike): 4xx for the caller's mistakes, else 500. */
export function httpStatusOf(error: unknown): number {
  if (!(error instanceof HistoryError)) return 500;
  if (error instanceof ValidationError) return 400;
  if (error instanceof ItemNotFoundError || error instanceof VersionNotFoundError) return 404;
  if (error instanceof VersionConflictError || error instanceof ItemExistsError) return 409;
  if (error instanceof UnauthenticatedError) return 403;
  if (error instanceof UnknownTableError) return error.code === 'table.required' ? 400 : 404;
  return 500;
}
