import { loadConfig, parseKeyAttributes } from '../../shared/core/config';
import { ConfigurationError } from '../../shared/core/errors';

describe('configuration', () => {
  it('defaults to the local dev tables and an `id` string key', () => {
    const config = loadConfig({});
    expect(config.latestTableName).toBe('dynamo-history-dev-latest');
    expect(config.historyTableName).toBe('dynamo-history-dev-history');
    expect(config.failuresTableName).toBe('dynamo-history-dev-failures');
    expect(config.keySchema).toEqual([{ name: 'id', type: 'S' }]);
    expect(config.attributes.version).toBe('version');
  });

  it('parses composite and typed keys', () => {
    expect(parseKeyAttributes('pk,sk')).toEqual([
      { name: 'pk', type: 'S' },
      { name: 'sk', type: 'S' },
    ]);
    expect(parseKeyAttributes('tenant:S, n:N')).toEqual([
      { name: 'tenant', type: 'S' },
      { name: 'n', type: 'N' },
    ]);
  });

  it.each(['', 'a,b,c', 'pk,pk', 'pk:X', 'p k', 'a:S:S'])('rejects KEY_ATTRIBUTES=%p', (spec) => {
    expect(() => parseKeyAttributes(spec === '' ? ',' : spec)).toThrow(ConfigurationError);
  });

  it('rejects a key attribute that clashes with a managed attribute', () => {
    expect(() => loadConfig({ KEY_ATTRIBUTES: 'version' })).toThrow(ConfigurationError);
    expect(() => loadConfig({ VERSION_ATTRIBUTE: 'modifiedAt' })).toThrow(ConfigurationError);
  });
});

describe('one KEY_ATTRIBUTES parser for the code and the template', () => {
  // The template's resources/tables.js used to accept what the code refused (three parts, a repeated name).
  const { keyAttributesOf } = require('../../resources/tables.js') as {
    keyAttributesOf: (spec: string) => { name: string; type: string }[];
  };
  it.each(['id', 'pk,sk', 'pk:S,sk:N', 'a b', 'pk,sk,x', 'pk,pk', 'id:X', 'id:S:S', ''])(
    'agrees on "%s"',
    (spec) => {
      const code = (() => {
        try {
          return parseKeyAttributes(spec);
        } catch (error) {
          return (error as Error).message;
        }
      })();
      const template = (() => {
        try {
          return keyAttributesOf(spec);
        } catch (error) {
          return (error as Error).message;
        }
      })();
      expect(template).toEqual(code);
    },
  );
});
