import { correctDating, interpretResponse, toLambdaRecord } from '../../local/event-source-mapping';
import { streamRecord } from '../helpers/stream-records';

const batch = [streamRecord(), streamRecord(), streamRecord()];
const seq = (i: number) => batch[i]?.dynamodb.SequenceNumber ?? '';

describe('partial batch responses, read as Lambda reads them', () => {
  it.each([
    ['no payload', undefined],
    ['null', null],
    ['no failure list', {}],
    ['an empty failure list', { batchItemFailures: [] }],
  ])('counts %s as success', (_case, payload) => {
    expect(interpretResponse({ payload }, batch)).toEqual({ kind: 'ok' });
  });

  it('resumes from the lowest failed record, whatever the order reported', () => {
    const payload = { batchItemFailures: [{ itemIdentifier: seq(2) }, { itemIdentifier: seq(1) }] };
    expect(interpretResponse({ payload }, batch)).toEqual({ kind: 'partial', firstFailed: 1 });
  });

  it.each([
    ['an empty identifier', [{ itemIdentifier: '' }]],
    ['a null identifier', [{ itemIdentifier: null }]],
    ['an identifier not in the batch', [{ itemIdentifier: '999' }]],
    ['a malformed entry', ['oops']],
  ])('fails the whole batch on %s', (_case, failures) => {
    expect(interpretResponse({ payload: { batchItemFailures: failures } }, batch)).toEqual({
      kind: 'partial',
      firstFailed: 0,
    });
  });

  it('treats a failure list that is not an array as a whole-batch failure', () => {
    expect(interpretResponse({ payload: { batchItemFailures: 'all' } }, batch)).toEqual({
      kind: 'partial',
      firstFailed: 0,
    });
  });

  it('treats a function error as an error', () => {
    expect(interpretResponse({ functionError: 'Unhandled' }, batch).kind).toBe('error');
  });
});

describe('Lambda event shape', () => {
  it('sends epoch seconds, base64 binary and the stream ARN', () => {
    const record = toLambdaRecord(
      {
        eventID: 'e1',
        eventName: 'INSERT',
        dynamodb: {
          ApproximateCreationDateTime: new Date('2026-01-01T00:00:01.900Z'),
          Keys: { id: { S: 'a' } },
          NewImage: { id: { S: 'a' }, b: { B: new Uint8Array([1, 2]) } },
          SequenceNumber: '100',
        },
      },
      'arn:aws:dynamodb:us-east-1:1:table/t/stream/x',
      'us-east-1',
    );
    expect(record.dynamodb.ApproximateCreationDateTime).toBe(1_767_225_601);
    expect(record.dynamodb.NewImage).toEqual({ id: { S: 'a' }, b: { B: 'AQI=' } });
    expect(record.eventSourceARN).toBe('arn:aws:dynamodb:us-east-1:1:table/t/stream/x');
    expect(record.eventSource).toBe('aws:dynamodb');
  });
});

describe('correctDating: DynamoDB Local’s minute dating, re-dated to the second', () => {
  const minute = Date.parse('2026-12-01T10:07:00Z') / 1000;
  it.each<[string, number, number, number, number]>([
    ['read 12.4 s into the minute', minute, minute * 1000 + 12_400, 0, minute + 12],
    [
      'read in the next minute (the mapping lagged): kept in its own minute',
      minute,
      (minute + 75) * 1000,
      0,
      minute + 59,
    ],
    [
      'read before the shard’s previous record’s second: never earlier than it',
      minute,
      minute * 1000 + 3_000,
      minute + 5,
      minute + 5,
    ],
    [
      'a time already at the second (not a step start): kept',
      minute + 7,
      (minute + 30) * 1000,
      0,
      minute + 7,
    ],
    [
      'read with a clock behind the emulator’s: never before its minute',
      minute,
      (minute - 4) * 1000,
      0,
      minute,
    ],
  ])('%s', (_case, reported, readAtMs, previous, expected) => {
    expect(correctDating(reported, readAtMs, 60, previous)).toBe(expected);
  });
});
