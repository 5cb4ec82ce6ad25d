import type { AttributeMap } from '../../shared/core/types';
import { diffImages } from '../../shared/reading/diff';

describe('diffImages', () => {
  it('names added, removed and changed attributes with nested paths and values', () => {
    const before: AttributeMap = {
      status: { S: 'new' },
      address: { M: { city: { S: 'Oslo' }, zip: { S: '0150' } } },
      items: {
        L: [{ M: { sku: { S: 'a' }, qty: { N: '1' } } }, { M: { sku: { S: 'b' }, qty: { N: '1' } } }],
      },
      gone: { BOOL: true },
    };
    const after: AttributeMap = {
      status: { S: 'paid' },
      address: { M: { city: { S: 'Bergen' }, zip: { S: '0150' } } },
      items: {
        L: [
          { M: { sku: { S: 'a' }, qty: { N: '1' } } },
          { M: { sku: { S: 'b' }, qty: { N: '3' } } },
          { M: { sku: { S: 'c' } } },
        ],
      },
      note: { S: 'gift' },
    };
    expect(diffImages(before, after)).toEqual({
      added: [
        { path: 'items[2]', after: { sku: 'c' } },
        { path: 'note', after: 'gift' },
      ],
      removed: [{ path: 'gone', before: true }],
      changed: [
        { path: 'address.city', before: 'Oslo', after: 'Bergen' },
        { path: 'items[1].qty', before: 1, after: 3 },
        { path: 'status', before: 'new', after: 'paid' },
      ],
    });
  });

  it('quotes attribute names that are not identifiers', () => {
    const diff = diffImages(
      { 'a.b': { S: 'x' }, m: { M: { 'has space': { N: '1' } } } },
      { 'a.b': { S: 'y' }, m: { M: { 'has space': { N: '2' } } } },
    );
    expect(diff.changed.map((c) => c.path)).toEqual(['["a.b"]', 'm["has space"]']);
  });

  it('treats a tombstone as an empty image', () => {
    expect(diffImages({ id: { S: '1' }, n: { N: '5' } }, undefined)).toEqual({
      added: [],
      removed: [
        { path: 'id', before: '1' },
        { path: 'n', before: 5 },
      ],
      changed: [],
    });
  });

  it('reports a type change and set changes as changed values, and equal sets as equal', () => {
    const diff = diffImages(
      { a: { N: '1' }, s: { SS: ['x', 'y'] }, t: { SS: ['p'] } },
      { a: { S: '1' }, s: { SS: ['y', 'x'] }, t: { SS: ['q'] } },
    );
    expect(diff.changed).toEqual([
      { path: 'a', before: 1, after: '1' },
      { path: 't', before: ['p'], after: ['q'] },
    ]);
  });

  it('keeps numbers that a double would round as strings', () => {
    const diff = diffImages({ big: { N: '12345678901234567890' } }, {});
    expect(diff.removed).toEqual([{ path: 'big', before: '12345678901234567890' }]);
  });
});
