import { addressParams, itemKeyParam } from '../../functions/http';
import { ValidationError } from '../../shared/core/errors';

// The item key of an audit or rollback URL means the same item whichever gateway delivered it:
// API Gateway REST hands path parameters over still percent-encoded, serverless-offline decoded.
describe('itemKeyParam', () => {
  it.each<[string, string, string]>([
    ['a composite key', '/items/USER%25231%7CORDER%25232/versions', 'USER%231|ORDER%232'],
    ['a key holding a slash', '/items/a%2Fb/versions/3', 'a/b'],
    ['a key holding a percent sign', '/items/100%2525/as-of', '100%25'],
    ['a rollback', '/items/order-1/rollback', 'order-1'],
  ])('reads %s the same from both event shapes', (_case, path, itemKey) => {
    const raw = /\/items\/([^/]+)/.exec(path)?.[1] ?? '';
    const apiGateway = { httpMethod: 'GET', path, pathParameters: { itemKey: raw } };
    const offline = { httpMethod: 'GET', path, pathParameters: { itemKey: decodeURIComponent(raw) } };
    expect(itemKeyParam(apiGateway)).toBe(itemKey);
    expect(itemKeyParam(offline)).toBe(itemKey);
  });

  it('takes a hand-made event’s path parameter as it is when there is no path', () => {
    expect(itemKeyParam({ httpMethod: 'GET', pathParameters: { itemKey: 'a/b' } })).toBe('a/b');
  });

  it('refuses a path that is not valid percent-encoding', () => {
    expect(() => itemKeyParam({ httpMethod: 'GET', path: '/items/%E0%A4%A/versions' })).toThrow(
      ValidationError,
    );
  });
});

describe('addressParams', () => {
  it.each<[string, string, { table?: string; itemKey: string }]>([
    ['the one-table route', '/items/order-1/versions', { itemKey: 'order-1' }],
    [
      'a table route',
      '/tables/Orders/items/USER%25231%7C7/versions/3',
      { table: 'Orders', itemKey: 'USER%231|7' },
    ],
    ['a table called items', '/tables/items/items/k/as-of', { table: 'items', itemKey: 'k' }],
    ['an item called tables', '/items/tables/diff', { itemKey: 'tables' }],
    ['a base path in front', '/audit/tables/a.b-c_d/items/x/rollback', { table: 'a.b-c_d', itemKey: 'x' }],
  ])('reads %s', (_case, path, expected) => {
    expect(addressParams({ httpMethod: 'GET', path })).toEqual(expected);
  });

  it('falls back to path parameters for a hand-made event', () => {
    expect(addressParams({ httpMethod: 'GET', pathParameters: { table: 'Orders', itemKey: 'k' } })).toEqual({
      table: 'Orders',
      itemKey: 'k',
    });
  });
});
