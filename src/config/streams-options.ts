// `podspan streams` flags: the capture flags it shares with `podspan capture` (source, filter,
// count, duration) plus the output folder and the flow-table limits, or tcpflow's console
// printing instead of files.
import { UsageError } from '../errors';
import { eventsFor, type ConsoleStyle } from '../reassembly/stream-console';
import { parseCaptureFlags, type CaptureRun, type RawCaptureFlags } from './capture-options';
import { flagValue, intFlag, positiveNumber } from './number-flags';
import { checkOutFolder } from './out-folder';

// A flow table of 100 M flows is tens of GB; an idle time as analyze's --flow-timeout allows.
const MAX_FLOWS = 100_000_000;
const MAX_IDLE_SECONDS = 86_400;
/** Live console: how long a ring block or a batch of stream events may wait before it is printed. */
const CONSOLE_LIVE_MS = 20;

export interface RawStreamsFlags extends Omit<RawCaptureFlags, 'write' | 'format' | 'fileSize' | 'rotateSeconds' | 'fileCount'> {
  outDir?: string;
  maxFlows?: string;
  idleTimeout?: string;
  /** -b: bytes kept of each stream direction (tcpflow -b). */
  maxBytes?: string;
  /** tcpflow's console flags: --console (-c there), -C, -D, -g, --binary (-B there). */
  console?: boolean;
  consoleBare?: boolean;
  hexDump?: boolean;
  color?: boolean;
  binary?: boolean;
}

export interface StreamsRun extends CaptureRun {
  /** -b: each direction up to its first this many bytes (tcpflow -b). */
  maxDirectionBytes?: number;
  /** Print the streams on standard output instead of writing files. */
  console?: ConsoleStyle;
}

type ConsoleFlags = Pick<RawStreamsFlags, 'console' | 'consoleBare' | 'hexDump' | 'color' | 'binary' | 'outDir'>;

/** tcpflow's -c and -C print rather than write files; -D, -g and -B shape that print. */
function consoleStyle(f: ConsoleFlags): ConsoleStyle | undefined {
  const shaping = [f.hexDump && '-D', f.color && '-g', f.binary && '--binary'].filter(Boolean);
  if (!f.console && !f.consoleBare) {
    if (shaping.length) throw new UsageError(`${shaping[0]} shapes what --console (or -C) prints: add one of them`);
    return undefined;
  }
  if (f.console && f.consoleBare) throw new UsageError('--console and -C conflict: -C is --console without the "NAME: " headers');
  if (f.hexDump && f.binary) throw new UsageError('-D and --binary conflict: a hex dump, or the bytes as they are');
  if (f.outDir !== undefined) throw new UsageError(`--console and -C print the streams instead of writing files: drop -o ${f.outDir}`);
  return { headers: f.console === true, hex: f.hexDump === true, color: f.color === true, binary: f.binary === true };
}

export function parseStreamsFlags(raw: RawStreamsFlags): StreamsRun {
  const { outDir, maxFlows, idleTimeout, maxBytes, console: toConsole, consoleBare, hexDump, color, binary, ...capture } = raw;
  // tcpflow's -c is the console; here -c is tcpdump's packet count, which a tcpflow hand types first.
  if (capture.count !== undefined && !/^\s*\d+\s*$/.test(capture.count)) {
    throw new UsageError(`-c takes a whole number, the packets to stop after, as tcpdump's (tcpflow's -c, printing on the console, is --console here)`);
  }
  const printing = consoleStyle({ console: toConsole, consoleBare, hexDump, color, binary, outDir });
  if (!printing) {
    if (!outDir) throw new UsageError('-o DIR is required: the folder for the stream files and index.jsonl (or --console to print the streams)');
    checkOutFolder('-o', outDir);
  }
  const run: StreamsRun = parseCaptureFlags(capture);
  const flows = flagValue(intFlag('--max-flows', 1, MAX_FLOWS), maxFlows);
  const idle = flagValue(positiveNumber('--idle-timeout', MAX_IDLE_SECONDS).optional(), idleTimeout);
  const limit = flagValue(intFlag('-b', 1, Number.MAX_SAFE_INTEGER), maxBytes);
  run.maxDirectionBytes = limit;
  if (printing) {
    run.console = printing;
    // Live, someone watches: ring blocks and event batches go out after 20 ms instead of 100, so a
    // piece shows within ~50 ms of its packet (an idle interface wakes the thread 50 times a second).
    const live = run.capture.source.kind === 'live';
    if (live) run.capture.timeoutMs = CONSOLE_LIVE_MS;
    run.capture.streamEvents = { maxFlows: flows, idleTimeoutSeconds: idle, maxDirectionBytes: limit, ...eventsFor(printing), ...(live ? { flushMs: CONSOLE_LIVE_MS } : {}) };
  } else {
    run.capture.streams = { dir: outDir!, maxFlows: flows, idleTimeoutSeconds: idle, maxDirectionBytes: limit };
  }
  return run;
}
