// What is left of an exchange batch when the replay cannot take it: the connections' open, close
// and skip lines (so the replay's per-connection state stays whole) and one skip line counting
// the exchanges given up as "queue_full", as the native queue writes it when it overflows.
const OPEN = Buffer.from('{"t":"open"');
const CLOSE = Buffer.from('{"t":"close"');
const SKIP = Buffer.from('{"t":"skip"');
const NEWLINE = Buffer.from('\n');

const startsWith = (meta: Buffer, at: number, end: number, prefix: Buffer) =>
  end - at >= prefix.length && meta.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;

/** `meta` (Contract 1's lines) without its exchanges and turns; `dropped`: how many were taken out. */
export function bookkeepingOnly(meta: Buffer): { meta: Buffer; dropped: number } {
  const kept: Buffer[] = [];
  let dropped = 0;
  for (let at = 0; at < meta.length; ) {
    let end = meta.indexOf(10, at);
    if (end < 0) end = meta.length;
    if (end > at) {
      if (startsWith(meta, at, end, OPEN) || startsWith(meta, at, end, CLOSE) || startsWith(meta, at, end, SKIP)) {
        kept.push(meta.subarray(at, end), NEWLINE);
      } else dropped++;
    }
    at = end + 1;
  }
  if (dropped) kept.push(Buffer.from(`{"t":"skip","conn":"0","reason":"queue_full","count":${dropped}}\n`));
  return { meta: Buffer.concat(kept), dropped };
}
