// Standard output as a consumer that can fall behind (a terminal, `| less`): a capture hands it
// batches only while it holds less than OUTPUT_ROOM unwritten. Meanwhile a file's reader waits,
// as tcpdump's output blocks it; live capture drops at its native queue, and counts.
import type { Writable } from 'node:stream';
import type { ConsumerFlow } from '../capture/session';

/** Unwritten bytes the output may hold before batches wait. */
export const OUTPUT_ROOM = 4 << 20;

/** `closed`: the output went away (a closed pipe): batches are taken again, and discarded. */
export function outputFlow(out: NodeJS.WritableStream, closed: () => boolean): ConsumerFlow {
  const writable = out as Partial<Writable>; // a stream without a count (a test's) always has room
  return {
    hasRoom: () => closed() || (writable.writableLength ?? 0) < OUTPUT_ROOM,
    onRoom: (fn) => out.on('drain', fn),
  };
}
