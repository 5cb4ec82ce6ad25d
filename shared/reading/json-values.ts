import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { setOwn } from '../core/attribute-names';
import type { AttributeMap } from '../core/types';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * A DynamoDB value as plain JSON for API responses: numbers as JSON numbers
 * when they survive the round trip (otherwise as strings, never rounded),
 * binary as base64, sets as sorted arrays.
 */
export function valueToJson(value: AttributeValue): Json {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return numberToJson(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.B !== undefined) return Buffer.from(value.B).toString('base64');
  if (value.SS !== undefined) return [...value.SS].sort();
  if (value.NS !== undefined) return [...value.NS].sort((a, b) => Number(a) - Number(b)).map(numberToJson);
  if (value.BS !== undefined) return value.BS.map((b) => Buffer.from(b).toString('base64')).sort();
  if (value.L !== undefined) return value.L.map(valueToJson);
  if (value.M !== undefined) return imageToJson(value.M);
  return null;
}

function numberToJson(n: string): Json {
  const value = Number(n);
  return Number.isFinite(value) && String(value) === n ? value : n;
}

export function imageToJson(image: AttributeMap): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(image).sort()) setOwn(out, key, valueToJson(image[key] as AttributeValue));
  return out;
}
