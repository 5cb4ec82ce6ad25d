import { GENESIS_HASH } from '../../shared/core/constants';
import type { HistoryRecord } from '../../shared/core/types';
import { contentHashOf } from '../../shared/recording/history-record';

/** Problems in one item's hash chain, oldest first; empty when it is intact. */
export function chainProblems(records: HistoryRecord[]): string[] {
  const problems: string[] = [];
  let prev = GENESIS_HASH;
  for (const r of records) {
    if (r.prevHash !== prev) problems.push(`${r.version}: prevHash does not link`);
    const hash = contentHashOf(r);
    if (hash !== r.hash) problems.push(`${r.version}: hash does not match content`);
    prev = r.hash;
  }
  return problems;
}
