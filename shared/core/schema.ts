import { setOwn } from './attribute-names';

/**
 * A small schema toolkit for untrusted input (stream records, invocation
 * payloads, HTTP parameters). Each schema checks a value and returns it typed,
 * or throws a {@link SchemaError} naming the path. It replaces a general
 * library whose locales alone would add ~260 KB to every Lambda bundle.
 */
export class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'SchemaError';
  }
}

export type Schema<T> = (value: unknown, path: string) => T;
export type Infer<S> = S extends Schema<infer T> ? T : never;

const describe = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'object'
        ? 'an object'
        : typeof value;

export function string(options: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  return (value, path) => {
    if (typeof value !== 'string') throw new SchemaError(path, `expected a string, got ${describe(value)}`);
    if (options.min !== undefined && value.length < options.min)
      throw new SchemaError(path, `must have at least ${options.min} character(s)`);
    if (options.max !== undefined && value.length > options.max)
      throw new SchemaError(path, `must have at most ${options.max} characters`);
    if (options.pattern && !options.pattern.test(value)) throw new SchemaError(path, `has an invalid format`);
    return value;
  };
}

export function number(options: { integer?: boolean; min?: number; max?: number } = {}): Schema<number> {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new SchemaError(path, `expected a finite number, got ${describe(value)}`);
    if (options.integer && !Number.isSafeInteger(value))
      throw new SchemaError(path, 'must be a safe integer');
    if (options.min !== undefined && value < options.min)
      throw new SchemaError(path, `must be at least ${options.min}`);
    if (options.max !== undefined && value > options.max)
      throw new SchemaError(path, `must be at most ${options.max}`);
    return value;
  };
}

export const boolean: Schema<boolean> = (value, path) => {
  if (typeof value !== 'boolean') throw new SchemaError(path, `expected a boolean, got ${describe(value)}`);
  return value;
};

export const unknown: Schema<unknown> = (value) => value;

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  return (value, path) => {
    if (typeof value !== 'string' || !values.includes(value))
      throw new SchemaError(path, `must be one of ${values.join(', ')}`);
    return value as T[number];
  };
}

export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  const wrapped: Schema<T | undefined> = (value, path) =>
    value === undefined ? undefined : schema(value, path);
  return Object.assign(wrapped, { optional: true });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A map with any keys; values checked by `values`. */
export function record<T>(values: Schema<T>): Schema<Record<string, T>> {
  return (value, path) => {
    if (!isPlainObject(value)) throw new SchemaError(path, `expected an object, got ${describe(value)}`);
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, values(v, `${path}.${k}`));
    return out;
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] };
/** Fields whose schema accepts undefined become optional properties. */
type ObjectOf<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

/**
 * An object with exactly the keys of `shape`. With `strict` (the default for
 * payloads), any other key is an error rather than silently ignored.
 */
export function object<S extends Shape>(shape: S, options: { strict?: boolean } = {}): Schema<ObjectOf<S>> {
  return (value, path) => {
    if (!isPlainObject(value)) throw new SchemaError(path, `expected an object, got ${describe(value)}`);
    if (options.strict) {
      // Own keys only: `constructor` or `toString` are no fields of any shape.
      const extra = Object.keys(value).filter((k) => !Object.hasOwn(shape, k));
      if (extra.length > 0) throw new SchemaError(path, `unknown field(s) ${extra.join(', ')}`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, schema] of Object.entries(shape)) {
      const v = schema(Object.hasOwn(value, k) ? value[k] : undefined, `${path}.${k}`);
      if (v !== undefined) out[k] = v;
    }
    return out as ObjectOf<S>;
  };
}
