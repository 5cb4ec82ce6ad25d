import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './types';

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Size of a number as DynamoDB counts it: about one byte per two significant digits, plus one. */
function numberSize(n: string): number {
  const digits = n
    .replace(/^-/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '');
  return Math.ceil(digits.length / 2) + 1;
}

/**
 * Estimated DynamoDB size of an attribute value, following the published rules
 * (UTF-8 strings, raw binary, 3 bytes per map or list plus 1 per element).
 * It errs high, never low: it decides when an image must be compressed.
 */
export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((s, x) => s + utf8(x), 0);
  if (value.NS !== undefined) return value.NS.reduce((s, x) => s + numberSize(x), 0);
  if (value.BS !== undefined) return value.BS.reduce((s, x) => s + x.length, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((s, x) => s + 1 + valueSize(x), 0);
  if (value.M !== undefined) return 3 + itemSize(value.M) + Object.keys(value.M).length;
  return 0;
}

/** Estimated DynamoDB size of an item: attribute names plus values. */
export function itemSize(map: AttributeMap): number {
  let size = 0;
  for (const [name, value] of Object.entries(map)) size += utf8(name) + valueSize(value);
  return size;
}
