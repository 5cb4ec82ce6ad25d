import { HistoryReader, MAX_PAGE_BYTES, toView } from '../../shared/reading/audit';
import { HistoryWriter } from '../../shared/recording/history-writer';
import { createTestTables, testClient } from '../helpers/dynamo';
import { N, S, streamRecord } from '../helpers/stream-records';

const client = testClient();
afterAll(() => client.destroy());

describe('every audit response is bounded (issue 14)', () => {
  it('pages 30 versions of 300 KB by bytes: no page over 5 MB, every version once, in order', async () => {
    const { config } = await createTestTables(client);
    const writer = new HistoryWriter({ client, config });
    for (let v = 1; v <= 30; v++) {
      await writer.recordBatch([
        streamRecord({
          op: v === 1 ? 'INSERT' : 'MODIFY',
          keys: { id: S('big') },
          newImage: { id: S('big'), version: N(v), body: S(`${v}`.padEnd(300_000, 'x')) },
        }),
      ]);
    }
    const reader = new HistoryReader({ client, config });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await reader.listVersions('big', { limit: 100, ...(cursor ? { cursor } : {}) });
      const bytes = Buffer.byteLength(JSON.stringify(page.items.map(toView)));
      expect(bytes).toBeLessThanOrEqual(MAX_PAGE_BYTES);
      seen.push(...page.items.map((r) => r.versionNumber));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(pages).toBeGreaterThan(1);
  }, 60_000);

  it('refuses a diff too large to answer with a clear error', async () => {
    const { config } = await createTestTables(client);
    const list = (n: number) => ({
      L: Array.from({ length: 100_000 }, (_, i) => ({ N: String((i * n) % 10) })),
    });
    await new HistoryWriter({ client, config }).recordBatch([
      streamRecord({ keys: { id: S('wide') }, newImage: { id: S('wide'), version: N(1), xs: list(1) } }),
      streamRecord({
        op: 'MODIFY',
        keys: { id: S('wide') },
        newImage: { id: S('wide'), version: N(2), xs: list(3) },
      }),
    ]);
    const reader = new HistoryReader({ client, config });
    await expect(reader.diff('wide', 1, 2)).rejects.toMatchObject({ code: 'diff.tooLarge' });
  }, 60_000);
});
