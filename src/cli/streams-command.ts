// `podspan streams`: TCP reassembled into one file per stream direction (tcpflow's layout:
// gaps are zeros so file offsets equal stream offsets) and DIR/index.jsonl, or printed on
// standard output (tcpflow -c), with a progress line for long runs and a summary of what was
// and was not decoded.
import { CaptureSession, type StreamStats } from '../capture/session';
import { parseStreamsFlags, type RawStreamsFlags } from '../config/streams-options';
import { defaultInterface } from '../capture/default-interface';
import { StreamConsole, type ConsoleStyle } from '../reassembly/stream-console';
import { outputFlow } from './output-flow';
import type { TextOut } from './stdout-errors';

/** After SIGINT/SIGTERM, how long the stream writers may drain before the rest is given up. */
export const DRAIN_DEADLINE_MS = 5000;

/** Printing (--console, -C): the payload bytes printed. */
export interface ConsoleCounts {
  printedBytes: number;
}

export function streamSummary(s: StreamStats, printed?: ConsoleCounts, maxDirectionBytes?: number): string[] {
  const notDecoded = s.decode.truncated + s.decode.unknownLinktype + s.decode.notIp + s.decode.malformed;
  return [
    `${s.packets} packets, ${s.tcpPackets} TCP`,
    printed
      ? `${s.streams} streams, ${printed.printedBytes} bytes printed` +
        // Every payload byte the native queue dropped (live, standard output behind), shown as a gap or not.
        (s.droppedDataBytes ? `, ${s.droppedDataBytes} bytes not printed: standard output did not keep up` : '')
      : `${s.streams} streams, ${s.files} files, ${s.bytes} bytes`,
    ...(s.unwrittenFiles
      ? [`${s.unwrittenFiles} files not fully written when stopped (${s.unwrittenBytes} bytes): "written": false in index.jsonl`]
      : []),
    ...(s.truncatedBytes ? [`${s.truncatedBytes} bytes beyond -b ${maxDirectionBytes} of their direction, not ${printed ? 'printed' : 'written'}`] : []),
    `${s.gaps} gaps, ${s.gapBytes} bytes missing`,
    `closed: ${Object.entries(s.closed).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `${s.retransmittedBytes} bytes retransmitted, ${s.overlapBytes} bytes overlapping (${s.overlapConflicts} with different bytes)`,
    `${notDecoded} packets not fully decoded: ${s.decode.notIp} not IP, ${s.decode.truncated} truncated, ` +
      `${s.decode.unknownLinktype} unknown link type, ${s.decode.malformed} malformed`,
    `${s.defrag.fragments} IP fragments: ${s.defrag.reassembled} datagrams rebuilt, ${s.defrag.dropped} fragments dropped by limits, ` +
      `${s.defrag.timedOut} datagrams timed out, ${s.defrag.overlapConflicts} with conflicting overlaps`,
    `${s.decode.tunnels} tunnel packets (GRE, ERSPAN, VXLAN, GENEVE), ${s.decode.tunnelsOpened} of them opened to reassemble the TCP inside`,
  ];
}

export async function runStreams(raw: RawStreamsFlags, err: TextOut): Promise<number> {
  const run = parseStreamsFlags(raw);
  if (run.defaultInterface) run.capture.source = { kind: 'live', interfaces: [defaultInterface()] };
  const session = CaptureSession.open(run.capture);
  for (const w of session.warnings) err.write(`podspan: warning: ${w}\n`);
  if (run.capture.source.kind === 'live') {
    for (const i of session.interfaces()) err.write(`listening on ${i.name}\n`);
  }
  const stop = () => session.stop();
  // First SIGINT/SIGTERM: stop reading and let the writers drain for DRAIN_DEADLINE_MS; then, or
  // at a second signal, give up what is still queued (index.jsonl marks what each file lacks).
  let signals = 0;
  let drain: NodeJS.Timeout | undefined;
  const onSignal = () => {
    if (++signals > 1) {
      session.abandonStreamWrites();
      return;
    }
    if (run.console) return session.stop(); // what the native queue still holds is printed, no more
    err.write(`podspan: stopping: writing what is queued (at most ${DRAIN_DEADLINE_MS / 1000} s; signal again to stop at once)\n`);
    session.stop();
    drain = setTimeout(() => session.abandonStreamWrites(), DRAIN_DEADLINE_MS);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = run.durationSeconds ? setTimeout(stop, run.durationSeconds * 1000) : undefined;
  // Printing, the streams themselves show the progress (and a line on stderr would cut into them).
  const progress = run.console
    ? undefined
    : setInterval(() => {
        const s = session.streamStats();
        if (s) err.write(`… ${s.packets} packets, ${s.streams} streams, ${(s.bytes / 1e6).toFixed(1)} MB\n`);
      }, 2000);
  const printer = run.console ? printOnStdout(session, run.console) : undefined;
  const result = await session.start();
  clearInterval(progress);
  printer?.close();
  if (timer) clearTimeout(timer);
  if (drain) clearTimeout(drain);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (result.streamStats) for (const line of streamSummary(result.streamStats, printer?.counts, run.maxDirectionBytes)) err.write(line + '\n');
  if (result.error) throw result.error;
  return 0;
}

/**
 * --console / -C: each batch of stream events printed in one write. A slow reader (a terminal,
 * `| less`) holds the capture back (outputFlow); a closed pipe (`| head`) stops the capture,
 * quietly, as tcpdump's output does.
 */
function printOnStdout(session: CaptureSession, style: ConsoleStyle): { counts: ConsoleCounts; close(): void } {
  const out = process.stdout;
  const printer = new StreamConsole(style);
  let closed = false;
  const onError = () => {
    closed = true;
    session.stop();
  };
  out.on('error', onError);
  session.onStreamEvents((batch) => {
    const bytes = printer.format(batch);
    if (bytes.length && !closed) out.write(bytes);
  }, outputFlow(out, () => closed));
  return {
    counts: printer,
    close: () => out.off('error', onError),
  };
}
