import { loadConfig } from '../../shared/core/config';
import { ValidationError } from '../../shared/core/errors';
import { VersionedCommands } from '../../shared/writing/versioned-table';

const config = loadConfig({});
const commands = new VersionedCommands('latest', config.keySchema, config.attributes);
const now = new Date('2026-01-02T03:04:05.678Z');

type Input = {
  ConditionExpression?: string;
  UpdateExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
};

/**
 * Resolves placeholders to `[name]` and `<value JSON>`, after checking that the
 * expression consists only of placeholders, keywords and punctuation: no
 * caller string is ever spliced in.
 */
function resolved(input: Input, which: 'ConditionExpression' | 'UpdateExpression'): string {
  const expression = input[which] ?? '';
  const residue = expression
    .replace(/#n\d+|:v\d+/g, '')
    .replace(/\b(SET|REMOVE|AND|if_not_exists|attribute_exists|attribute_not_exists)\b/g, '');
  expect(residue).toMatch(/^[\s=(),]*$/);
  return expression.replace(/#n\d+|:v\d+/g, (p) =>
    p.startsWith('#')
      ? `[${input.ExpressionAttributeNames?.[p] ?? '?'}]`
      : `<${JSON.stringify(input.ExpressionAttributeValues?.[p])}>`,
  );
}

describe('VersionedCommands', () => {
  it('creates at version 1 only if absent, stamping the managed attributes', () => {
    const { input, itemKey } = commands.create({ id: 'order-1', status: 'new' }, now, { actor: 'alice' });
    expect(itemKey).toBe('order-1');
    expect(resolved(input, 'ConditionExpression')).toBe('attribute_not_exists([id])');
    expect(input.Item).toEqual({
      id: { S: 'order-1' },
      status: { S: 'new' },
      version: { N: '1' },
      createdAt: { S: now.toISOString() },
      modifiedAt: { S: now.toISOString() },
      modifiedBy: { S: 'alice' },
    });
    expect(input.ReturnValuesOnConditionCheckFailure).toBe('ALL_OLD');
  });

  it('updates under the version check, keeping createdAt with if_not_exists', () => {
    const { input } = commands.update({ id: 'order-1' }, 4, { status: 'paid', note: undefined }, now);
    const nowValue = `<${JSON.stringify({ S: now.toISOString() })}>`;
    expect(resolved(input, 'ConditionExpression')).toBe('[version] = <{"N":"4"}>');
    expect(resolved(input, 'UpdateExpression')).toBe(
      `SET [status] = <{"S":"paid"}>, [version] = <{"N":"5"}>, [createdAt] = if_not_exists([createdAt], ${nowValue}), ` +
        `[modifiedAt] = ${nowValue} REMOVE [note], [modifiedBy], [historyContext]`,
    );
  });

  it('never splices attribute names into expressions', () => {
    const hostile = ['a#b', 'x:y', 'p.q', 'has space', 'size', 'ORDER', ') OR (1=1', '#n0', ':v0'];
    const changes = Object.fromEntries(hostile.map((name) => [name, name]));
    const { input } = commands.update({ id: 'k' }, 1, changes, now);
    const update = resolved(input, 'UpdateExpression');
    for (const name of hostile) expect(update).toContain(`[${name}] = <${JSON.stringify({ S: name })}>`);
  });

  it('treats expected version 0 as an existing item without a version', () => {
    const { input } = commands.remove({ id: 'legacy' }, 0);
    expect(resolved(input, 'ConditionExpression')).toBe(
      'attribute_exists([id]) AND attribute_not_exists([version])',
    );
    expect(input.ExpressionAttributeValues).toBeUndefined();
  });

  it('puts a full item, keeping a passed createdAt under the condition', () => {
    const { input } = commands.put(
      { id: 'a', createdAt: '2020-01-01T00:00:00.000Z', version: 2, x: 1 },
      2,
      now,
    );
    expect(input.Item?.createdAt).toEqual({ S: '2020-01-01T00:00:00.000Z' });
    expect(input.Item?.version).toEqual({ N: '3' });
    expect(resolved(input, 'ConditionExpression')).toBe(
      '[version] = <{"N":"2"}> AND [createdAt] = <{"S":"2020-01-01T00:00:00.000Z"}>',
    );
  });

  const bad: [string, () => unknown][] = [
    ['a missing key', () => commands.create({ status: 'x' }, now)],
    ['a key of the wrong type', () => commands.update({ id: 7 }, 1, { a: 1 }, now)],
    ['an extra key attribute', () => commands.remove({ id: 'a', other: 'b' }, 1)],
    ['a fractional version', () => commands.update({ id: 'a' }, 1.5, { a: 1 }, now)],
    ['a negative version', () => commands.remove({ id: 'a' }, -1)],
    ['a string version', () => commands.update({ id: 'a' }, '2' as unknown as number, { a: 1 }, now)],
    ['a version past MAX_SAFE_INTEGER', () => commands.remove({ id: 'a' }, Number.MAX_SAFE_INTEGER + 1)],
    ['a managed attribute in create', () => commands.create({ id: 'a', version: 3 }, now)],
    ['a managed attribute in update', () => commands.update({ id: 'a' }, 1, { modifiedAt: 'x' }, now)],
    ['a key attribute in update', () => commands.update({ id: 'a' }, 1, { id: 'b' }, now)],
    ['a put whose version disagrees', () => commands.put({ id: 'a', version: 7 }, 2, now)],
    ['an item over 400 KB', () => commands.create({ id: 'a', body: 'x'.repeat(410 * 1024) }, now)],
    ['changes that are not an object', () => commands.update({ id: 'a' }, 1, [] as never, now)],
  ];
  it.each(bad)('rejects %s with a ValidationError', (_case, build) => {
    expect(build).toThrow(ValidationError);
  });
});
