/**
 * User attribute names are data. Plain assignment (`out[name] = v`) treats
 * `__proto__` as the prototype setter and drops the attribute; a read of a
 * name the map does not have (`map[name]`) can find `Object.prototype`'s
 * members (`constructor`, `toString`). These two never do.
 */
export function setOwn<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

export function getOwn<T>(source: Record<string, T> | undefined, name: string): T | undefined {
  return source !== undefined && Object.hasOwn(source, name) ? source[name] : undefined;
}
