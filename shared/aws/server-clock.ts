import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * DynamoDB's own clock, as its responses' `Date` headers tell it. Snapshots
 * (backfill, repair) are compared with stream records, which DynamoDB dates
 * itself; dating a snapshot by the host's clock would let a host running ahead
 * make real changes look older than the snapshot. `lowerBoundMs()` is a time
 * DynamoDB's clock has certainly reached: a header's second had begun when the
 * response was sent, and it was received later.
 */
export class ServerClock {
  /** The largest `header − local receipt time` seen: server ≥ local + offset. */
  private offsetMs: number | undefined;

  constructor(private readonly local: () => number = Date.now) {}

  /** Watches a client's responses; call once per client. */
  attach(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const date = (out.response as { headers?: Record<string, string> } | undefined)?.headers?.date;
        if (date) this.observe(Date.parse(date));
        return out;
      },
      { step: 'deserialize', name: 'dynamoHistoryServerClock', override: true },
    );
    return this;
  }

  observe(headerMs: number): void {
    if (!Number.isFinite(headerMs)) return;
    const offset = headerMs - this.local();
    if (this.offsetMs === undefined || offset > this.offsetMs) this.offsetMs = offset;
  }

  /** A time DynamoDB's clock has reached; the host's own clock until a response was seen. */
  lowerBoundMs(): number {
    return this.local() + (this.offsetMs ?? 0);
  }

  get observed(): boolean {
    return this.offsetMs !== undefined;
  }
}
