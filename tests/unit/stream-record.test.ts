import { loadConfig } from '../../shared/core/config';
import { MalformedRecordError } from '../../shared/core/errors';
import { compareSequenceNumbers, parseStreamRecord } from '../../shared/recording/stream-record';
import { N, S, streamRecord } from '../helpers/stream-records';

const schema = loadConfig({}).keySchema;

describe('parseStreamRecord', () => {
  it('decodes an AWS-shaped record, binary included', () => {
    const raw = streamRecord({
      keys: { id: S('a') },
      newImage: { id: S('a'), blob: { B: 'AQI=' }, version: N(1) },
    });
    const change = parseStreamRecord(raw, schema);
    expect(change.itemKey).toBe('a');
    expect(change.op).toBe('INSERT');
    expect(change.newImage?.blob?.B).toEqual(new Uint8Array([1, 2]));
    expect(change.createdAtMs).toBe(1_795_000_000_000);
  });

  const valid = () =>
    streamRecord({ keys: { id: S('a') } }) as unknown as Record<string, Record<string, unknown>>;
  const cases: [string, (r: Record<string, Record<string, unknown>>) => unknown][] = [
    ['null', () => null],
    ['a string', () => 'record'],
    ['no eventID', (r) => ({ ...r, eventID: undefined })],
    ['an unknown eventName', (r) => ({ ...r, eventName: 'UPSERT' })],
    ['no dynamodb', (r) => ({ ...r, dynamodb: undefined })],
    ['a non-numeric sequence number', (r) => ({ ...r, dynamodb: { ...r.dynamodb, SequenceNumber: '12a' } })],
    [
      'a date string timestamp',
      (r) => ({ ...r, dynamodb: { ...r.dynamodb, ApproximateCreationDateTime: '2026-01-01' } }),
    ],
    ['no Keys', (r) => ({ ...r, dynamodb: { ...r.dynamodb, Keys: undefined } })],
    [
      'keys missing the key attribute',
      (r) => ({ ...r, dynamodb: { ...r.dynamodb, Keys: { other: S('x') } } }),
    ],
    ['an INSERT without NewImage', (r) => ({ ...r, dynamodb: { ...r.dynamodb, NewImage: undefined } })],
    [
      'an unknown type tag',
      (r) => ({ ...r, dynamodb: { ...r.dynamodb, NewImage: { id: S('a'), x: { Q: '1' } } } }),
    ],
    [
      'two type tags',
      (r) => ({ ...r, dynamodb: { ...r.dynamodb, NewImage: { id: S('a'), x: { S: 'a', N: '1' } } } }),
    ],
    [
      'a bad number',
      (r) => ({ ...r, dynamodb: { ...r.dynamodb, NewImage: { id: S('a'), x: { N: 'ten' } } } }),
    ],
    ['bad base64', (r) => ({ ...r, dynamodb: { ...r.dynamodb, NewImage: { id: S('a'), x: { B: '***' } } } })],
    ['an empty set', (r) => ({ ...r, dynamodb: { ...r.dynamodb, NewImage: { id: S('a'), x: { SS: [] } } } })],
  ];
  it.each(cases)('rejects a record with %s as malformed', (_case, mutate) => {
    expect(() => parseStreamRecord(mutate(valid()), schema)).toThrow(MalformedRecordError);
  });

  it('rejects images nested past the depth limit', () => {
    let deep: unknown = S('leaf');
    for (let i = 0; i < 40; i++) deep = { M: { x: deep } };
    const raw = streamRecord({ keys: { id: S('a') }, newImage: { id: S('a'), deep: deep as never } });
    expect(() => parseStreamRecord(raw, schema)).toThrow(MalformedRecordError);
  });
});

describe('sequence numbers', () => {
  it('compare as big integers, not as strings or doubles', () => {
    expect(compareSequenceNumbers('9', '10')).toBe(-1);
    expect(compareSequenceNumbers('100000000000000000000001', '100000000000000000000000')).toBe(1);
    expect(compareSequenceNumbers('0042', '42')).toBe(0);
  });
});

describe('a record is about the item it names (issue 14)', () => {
  it.each(['NewImage', 'OldImage'] as const)('refuses a %s of another item than its Keys', (part) => {
    const record = streamRecord({
      op: 'MODIFY',
      keys: { id: S('mine') },
      newImage: { id: S('mine'), version: N(2) },
      oldImage: { id: S('mine'), version: N(1) },
    });
    record.dynamodb[part] = { id: S('someone-else'), version: N(9) };
    expect(() => parseStreamRecord(record, schema)).toThrow(MalformedRecordError);
    expect(() => parseStreamRecord(record, schema)).toThrow('is the image of another item than Keys');
  });
});
