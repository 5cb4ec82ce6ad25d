import type { AttributeMap } from '../core/types';

/** Reads an AWS SDK error's name without trusting its shape. */
export function awsErrorName(error: unknown): string | undefined {
  return error !== null && typeof error === 'object' && 'name' in error && typeof error.name === 'string'
    ? error.name
    : undefined;
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return awsErrorName(error) === 'ConditionalCheckFailedException';
}

/** With `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`, DynamoDB puts the current item on the error. */
export function conditionFailureItem(error: unknown): AttributeMap | undefined {
  if (error === null || typeof error !== 'object' || !('Item' in error)) return undefined;
  const item = (error as { Item?: unknown }).Item;
  return item !== null && typeof item === 'object' ? (item as AttributeMap) : undefined;
}

/** DynamoDB rejected the request itself (for example an item over 400 KB): retrying cannot help. */
export function isAwsValidation(error: unknown): boolean {
  return awsErrorName(error) === 'ValidationException';
}
