import { loadConfig } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import {
  boolean,
  number,
  object,
  oneOf,
  optional,
  record,
  SchemaError,
  string,
  unknown,
} from '../../shared/core/schema';
import { parseRollbackRequest } from '../../shared/writing/rollback';
import { VersionedCommands } from '../../shared/writing/versioned-table';

const payload = object(
  {
    name: string({ min: 1, max: 5 }),
    count: number({ integer: true, min: 1 }),
    mode: optional(oneOf(['a', 'b'] as const)),
    flag: optional(boolean),
    tags: optional(record(string())),
    any: optional(unknown),
  },
  { strict: true },
);

describe('schema', () => {
  it('returns a typed copy of a valid value, without absent optionals', () => {
    expect(payload({ name: 'x', count: 2, mode: 'b', tags: { k: 'v' } }, '$')).toEqual({
      name: 'x',
      count: 2,
      mode: 'b',
      tags: { k: 'v' },
    });
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'x', '$'],
    ['an array', [], '$'],
    ['a missing field', { count: 1 }, '$.name'],
    ['an empty string', { name: '', count: 1 }, '$.name'],
    ['a long string', { name: 'toolong', count: 1 }, '$.name'],
    ['a fractional integer', { name: 'x', count: 1.5 }, '$.count'],
    ['a number below min', { name: 'x', count: 0 }, '$.count'],
    ['NaN', { name: 'x', count: Number.NaN }, '$.count'],
    ['a number past MAX_SAFE_INTEGER', { name: 'x', count: 2 ** 53 }, '$.count'],
    ['a numeric string', { name: 'x', count: '2' }, '$.count'],
    ['a value outside the enum', { name: 'x', count: 1, mode: 'c' }, '$.mode'],
    ['a non-boolean flag', { name: 'x', count: 1, flag: 'true' }, '$.flag'],
    ['a bad record value', { name: 'x', count: 1, tags: { k: 1 } }, '$.tags.k'],
    ['an unknown field', { name: 'x', count: 1, extra: true }, '$'],
  ])('rejects %s, naming the path', (_case, value, path) => {
    expect.assertions(2);
    try {
      payload(value, '$');
    } catch (error) {
      expect(error).toBeInstanceOf(SchemaError);
      expect((error as SchemaError).path).toBe(path);
    }
  });

  it('ignores unknown fields when not strict', () => {
    expect(object({ a: string() })({ a: 'x', b: 1 }, '$')).toEqual({ a: 'x' });
  });
});

describe('names JavaScript treats specially are data, never object machinery (#12)', () => {
  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    'a strict object refuses an unknown field named %s',
    (name) => {
      const payload = JSON.parse(`{"key":{"id":"a"},"toVersion":1,"${name}":5}`);
      expect(() => parseRollbackRequest(payload)).toThrow(ValidationError);
    },
  );

  it('a record keeps a __proto__ key as its own entry and keeps its prototype', () => {
    const out = record(unknown)(JSON.parse('{"__proto__":{"x":1},"a":2}'), '$');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out).sort()).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ x: 1 });
  });

  it('a rollback key with a __proto__ attribute is refused, not silently shortened', () => {
    const commands = new VersionedCommands('t', [{ name: 'id', type: 'S' }], loadConfig({}).attributes);
    expect(() => commands.key(JSON.parse('{"id":"a","__proto__":{"S":"x"}}'))).toThrow(ValidationError);
  });
});
