import { UntrustedRecordError } from '../../shared/core/errors';
import { checkOrigin, trustOf } from '../../shared/recording/stream-origin';
import { parseStreamRecord } from '../../shared/recording/stream-record';
import { streamRecord } from '../helpers/stream-records';

const ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-30T10:00:00.000';
const NOW = Date.parse('2026-12-01T12:00:00Z');
const at = (ms: number) => Math.floor(ms / 1000);

const check = (spec: Parameters<typeof streamRecord>[0]) => {
  const raw = streamRecord({ arn: ARN, at: at(NOW), ...spec });
  const change = parseStreamRecord(JSON.parse(JSON.stringify(raw)), [{ name: 'id', type: 'S' }]);
  return () => checkOrigin(raw, change, { streamArn: ARN }, NOW);
};

const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(UntrustedRecordError);
    return (error as UntrustedRecordError).code;
  }
};

describe('checkOrigin: only records the trusted stream can carry', () => {
  it.each<[string, string | undefined, Parameters<typeof streamRecord>[0]]>([
    ['a record of the stream, dated now', undefined, {}],
    ['a record 24 hours old (the stream still holds it)', undefined, { at: at(NOW - 24 * 3600_000) }],
    ['a record 4 minutes ahead (clock skew)', undefined, { at: at(NOW + 4 * 60_000) }],
    ['another table’s stream', 'record.foreignStream', { arn: ARN.replace('Orders', 'Other') }],
    ['another stream of the same table', 'record.foreignStream', { arn: ARN.replace('10:00', '11:00') }],
    ['no event source', 'record.foreignStream', { arn: '' }],
    ['a date in 2100', 'record.outOfWindow', { at: 4_102_444_800 }],
    ['a date 26 hours old', 'record.outOfWindow', { at: at(NOW - 26 * 3600_000) }],
    ['the epoch', 'record.outOfWindow', { at: 0 }],
  ])('%s → %s', (_case, code, spec) => {
    expect(codeOf(check(spec))).toBe(code);
  });
});

describe('trustOf', () => {
  it('takes LATEST_STREAM_ARN, including DynamoDB Local’s', () => {
    expect(trustOf(ARN).streamArn).toBe(ARN);
    const local =
      'arn:aws:dynamodb:ddblocal:000000000000:table/dynamo-history-dev-latest/stream/2026-12-01T21:52:10.123';
    expect(trustOf(local).streamArn).toBe(local);
  });

  it.each([[undefined], [''], ['arn:aws:sqs:us-east-1:123456789012:queue'], ['[object Object]']])(
    'refuses to start without a stream ARN (%p)',
    (value) => {
      expect(() => trustOf(value)).toThrow(/LATEST_STREAM_ARN/);
    },
  );
});
