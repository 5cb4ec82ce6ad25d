import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { setOwn } from './attribute-names';
import type { AttributeMap } from './types';

/**
 * Lambda receives stream images as JSON: DynamoDB JSON whose binary values are
 * base64 strings. These convert between that wire form and the SDK's
 * `AttributeValue` (binary as Uint8Array), checking every value on the way in.
 */
export type WireValue = { [tag: string]: unknown };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MAX_DEPTH = 32;

export class WireFormatError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'WireFormatError';
  }
}

function base64(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new WireFormatError(path, 'binary value is not base64');
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function strings(value: unknown, path: string, check?: RegExp): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new WireFormatError(path, 'set must be a non-empty array');
  return value.map((v, i) => {
    if (typeof v !== 'string' || (check && !check.test(v)))
      throw new WireFormatError(`${path}[${i}]`, 'bad set member');
    return v;
  });
}

export function fromWireValue(raw: unknown, path = '$', depth = 0): AttributeValue {
  if (depth > MAX_DEPTH) throw new WireFormatError(path, 'nested too deeply');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new WireFormatError(path, 'not an attribute value');
  const entries = Object.entries(raw);
  if (entries.length !== 1) throw new WireFormatError(path, 'an attribute value has exactly one type tag');
  const [tag, value] = entries[0] as [string, unknown];
  switch (tag) {
    case 'S':
      if (typeof value !== 'string') throw new WireFormatError(path, 'S must be a string');
      return { S: value };
    case 'N':
      if (typeof value !== 'string' || !NUMBER.test(value))
        throw new WireFormatError(path, 'N must be a numeric string');
      return { N: value };
    case 'B':
      return { B: base64(value, path) };
    case 'BOOL':
      if (typeof value !== 'boolean') throw new WireFormatError(path, 'BOOL must be a boolean');
      return { BOOL: value };
    case 'NULL':
      if (value !== true) throw new WireFormatError(path, 'NULL must be true');
      return { NULL: true };
    case 'SS':
      return { SS: strings(value, path) };
    case 'NS':
      return { NS: strings(value, path, NUMBER) };
    case 'BS':
      return { BS: strings(value, path).map((v, i) => base64(v, `${path}[${i}]`)) };
    case 'L':
      if (!Array.isArray(value)) throw new WireFormatError(path, 'L must be an array');
      return { L: value.map((v, i) => fromWireValue(v, `${path}[${i}]`, depth + 1)) };
    case 'M':
      return { M: fromWireMap(value, path, depth + 1) };
    default:
      throw new WireFormatError(path, `unknown type tag "${tag}"`);
  }
}

export function fromWireMap(raw: unknown, path = '$', depth = 0): AttributeMap {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new WireFormatError(path, 'not a map');
  const out: AttributeMap = {};
  for (const [name, value] of Object.entries(raw))
    setOwn(out, name, fromWireValue(value, `${path}.${name}`, depth));
  return out;
}

export function toWireValue(value: AttributeValue): WireValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toWireValue) };
  if (value.M !== undefined) return { M: toWireMap(value.M) };
  const { $unknown: _ignored, ...rest } = value as AttributeValue & { $unknown?: unknown };
  return rest as WireValue;
}

export function toWireMap(map: AttributeMap): Record<string, WireValue> {
  const out: Record<string, WireValue> = {};
  for (const [name, value] of Object.entries(map)) setOwn(out, name, toWireValue(value));
  return out;
}
