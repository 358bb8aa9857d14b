// What is left of an exchange batch when the replay cannot take it: the connections' open, close
// and skip rows (so the replay's per-connection state stays whole) and one skip row counting the
// exchanges given up as "queue_full", as the native queue writes it when it overflows.
import { RowKind, rowAt, skipRow } from './exchange-rows';

const BOOKKEEPING = new Set<number>([RowKind.Open, RowKind.Close, RowKind.Skip]);

/** `meta` (Contract 1's rows) without its exchanges and turns; `dropped`: how many were taken out. */
export function bookkeepingOnly(meta: Buffer): { meta: Buffer; dropped: number } {
  const kept: Buffer[] = [];
  let dropped = 0;
  for (let at = 0; at < meta.length; ) {
    const { kind, end } = rowAt(meta, at);
    if (end <= at || end > meta.length) {
      // Not a row: left whole to the reader, which names what is wrong with it.
      kept.push(meta.subarray(at));
      break;
    }
    if (BOOKKEEPING.has(kind)) kept.push(meta.subarray(at, end));
    else dropped++;
    at = end;
  }
  if (dropped) kept.push(skipRow('queue_full', dropped));
  return { meta: Buffer.concat(kept), dropped };
}
