import type { RecordView, VersionDiff } from '../shared/reading/audit';
import { type Io, paint, printable, table } from './io';

/** The history of an item as a table, one version per row. */
export function versionRows(items: RecordView[]): string[][] {
  return [
    ['VERSION', 'OP', 'SOURCE', 'RECORDED AT', 'ACTOR', 'CHANGED'],
    ...items.map((r) => [
      String(r.version),
      r.op,
      r.source +
        (r.restoredFrom ? ` (from v${r.restoredFrom})` : '') +
        (r.labelRejected ? ' (label rejected)' : ''),
      r.recordedAt,
      r.actor ?? '',
      r.changed.join(','),
    ]),
  ];
}

/** One version: its metadata, then its image. */
export function showRecord(view: RecordView): string {
  const head = [
    `item      ${view.itemKey}`,
    `version   ${view.version} (${view.versionKey})`,
    `op        ${view.op}${view.deleted ? ' (tombstone: the item did not exist)' : ''}`,
    `source    ${view.source}${view.restoredFrom ? ` (restored from v${view.restoredFrom})` : ''}`,
    `recorded  ${view.recordedAt}`,
  ];
  if (view.actor)
    head.push(
      `actor     ${view.actor}${view.actorSource === 'caller' ? ' (the IAM caller)' : view.actorSource === 'claimed' ? ' (claimed by the invoker)' : ''}`,
    );
  if (view.labelRejected)
    head.push('label     rejected: the write claimed to be a rollback without a valid label');
  if (view.reason) head.push(`reason    ${view.reason}`);
  if (view.declaredVersion) head.push(`declared  ${view.declaredVersion}`);
  head.push(`hash      ${view.hash}`);
  return `${head.join('\n')}\n${view.image ? JSON.stringify(view.image, null, 2) : ''}`.trimEnd();
}

/** A diff, one coloured line per path. */
export function showDiff(io: Io, diff: VersionDiff): string {
  const lines = [printable(`diff ${diff.itemKey} v${diff.from} → v${diff.to}`)];
  if (diff.fromDeleted) lines.push(`(v${diff.from} is a tombstone: the item did not exist)`);
  if (diff.toDeleted) lines.push(`(v${diff.to} is a tombstone: the item was deleted)`);
  for (const e of diff.added) lines.push(paint(io, 32, `+ ${e.path}: ${JSON.stringify(e.after)}`));
  for (const e of diff.removed) lines.push(paint(io, 31, `- ${e.path}: ${JSON.stringify(e.before)}`));
  for (const e of diff.changed)
    lines.push(paint(io, 33, `~ ${e.path}: ${JSON.stringify(e.before)} → ${JSON.stringify(e.after)}`));
  if (diff.added.length + diff.removed.length + diff.changed.length === 0) lines.push('(no differences)');
  return lines.join('\n');
}

/** Findings (verify, repair, digest check) as a table. */
export function findingRows(
  findings: { itemKey?: string | undefined; version?: number | undefined; kind: string; message: string }[],
): string {
  return table([
    ['ITEM', 'VERSION', 'FINDING', 'DETAIL'],
    ...findings.map((f) => [
      f.itemKey ?? '',
      f.version === undefined ? '' : String(f.version),
      f.kind,
      f.message,
    ]),
  ]);
}
