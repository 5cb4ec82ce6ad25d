import { fromWireMap } from '../core/wire';

const PROTO = Buffer.from('"__proto__"');

type Holder = Record<string, unknown>;

/** Every attribute map of a DynamoDB or DynamoDB Streams response: the raw one, and where the SDK's read sits. */
function maps(raw: Holder, out: Holder): { raw: unknown; holder: Holder; key: string | number }[] {
  const found: { raw: unknown; holder: Holder; key: string | number }[] = [];
  const one = (r: Holder, o: Holder, key: string) => {
    if (r[key] !== undefined && o[key] !== undefined) found.push({ raw: r[key], holder: o, key });
  };
  const list = (r: unknown, o: unknown) => {
    if (!Array.isArray(r) || !Array.isArray(o)) return;
    r.forEach((x, i) => {
      if (o[i] !== undefined) found.push({ raw: x, holder: o as unknown as Holder, key: i });
    });
  };
  one(raw, out, 'Item');
  one(raw, out, 'Attributes');
  list(raw.Items, out.Items);
  const responses = raw.Responses as Holder | undefined;
  const parsed = out.Responses as Holder | undefined;
  if (responses && parsed && typeof responses === 'object' && !Array.isArray(responses))
    for (const table of Object.keys(responses)) list(responses[table], parsed[table]);
  if (Array.isArray(raw.Records) && Array.isArray(out.Records)) {
    raw.Records.forEach((r, i) => {
      const rd = (r as { dynamodb?: Holder }).dynamodb;
      const od = ((out.Records as unknown[])[i] as { dynamodb?: Holder } | undefined)?.dynamodb;
      if (rd && od) for (const part of ['Keys', 'NewImage', 'OldImage']) one(rd, od, part);
    });
  }
  return found;
}

/**
 * Works around an AWS SDK v3 defect (present in @smithy/core 3.41.1): the JSON
 * deserializer rewrites a top-level map in place and, for a key `__proto__`,
 * redefines it as `undefined` before reading it, so an item attribute named
 * `__proto__` comes back with no value (nested maps are read correctly). This
 * keeps the raw body of responses that contain that name and reads their
 * attribute maps from it again. Responses without it cost one byte search.
 */
export function preserveProtoAttributes<C extends { middlewareStack: unknown }>(client: C): C {
  const raws = new WeakMap<object, Uint8Array>();
  const stack = client.middlewareStack as unknown as {
    add(mw: unknown, options: { step: string; name: string; priority?: string; override?: boolean }): void;
  };
  stack.add(
    (next: (args: unknown) => Promise<{ response: { body?: unknown } }>, context: object) =>
      async (args: unknown) => {
        const out = await next(args);
        const body = out.response.body as AsyncIterable<Uint8Array> | Uint8Array | undefined;
        if (
          body === undefined ||
          body instanceof Uint8Array ||
          typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] !== 'function'
        )
          return out;
        const chunks: Uint8Array[] = [];
        for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(chunk);
        const bytes = Buffer.concat(chunks);
        out.response.body = new Uint8Array(bytes);
        if (bytes.indexOf(PROTO) >= 0) raws.set(context, bytes);
        return out;
      },
    { step: 'deserialize', name: 'dynamoHistoryKeepRawBody', priority: 'low', override: true },
  );
  stack.add(
    (next: (args: unknown) => Promise<{ output: Record<string, unknown> }>, context: object) =>
      async (args: unknown) => {
        const result = await next(args);
        const bytes = raws.get(context);
        if (!bytes) return result;
        // Every map the response holds is read again from the raw JSON, at every depth, by the
        // project's own checked reader (which keeps every name an ordinary key).
        const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as Holder;
        for (const { raw: map, holder, key } of maps(raw, result.output)) {
          (holder as Record<string | number, unknown>)[key] = fromWireMap(map, '$');
        }
        return result;
      },
    { step: 'initialize', name: 'dynamoHistoryRestoreProto', override: true },
  );
  return client;
}
