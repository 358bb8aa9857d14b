// `podspan capture`: tcpdump-like capture to a file (or standard output) or to the terminal,
// ending with a summary in tcpdump's words on stderr. A reader that closes the pipe ends the
// capture quietly with exit 0, as tcpdump's does.
import { defaultInterface } from '../capture/default-interface';
import { CaptureSession, linkTypeText } from '../capture/session';
import type { PacketBatch } from '../capture/batch';
import { MAX_SNAPLEN, parseCaptureFlags, type RawCaptureFlags } from '../config/capture-options';
import { PostRotate } from '../capture/post-rotate';
import { becomeUser, type SystemUser } from '../runtime/privileges';
import type { GrpcFanout } from '../forward/grpc-fanout';
import type { GrpcForwarderStats } from '../forward/grpc-forwarder';
import { resolveTargets } from '../forward/resolve';
import { OutputError, UsageError } from '../errors';
import { PacketPrinter } from './print';
import { outputFlow } from './output-flow';
import { runInterfacesLikeTcpdump, runTypesLikeTcpdump } from './interfaces-command';
import { summaryLines } from './capture-summary';

/** grpc-js's "UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED …. Resolution note: " -> "connect ECONNREFUSED …". */
export function readableGrpcError(message: string | undefined): string {
  if (!message) return 'no answer';
  const last = /Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/.exec(message);
  return (last ? last[1] : message).trim() || 'no answer';
}

export function grpcSummary(stats: GrpcForwarderStats[], droppedNoCollector: number): string[] {
  const lines = stats.map(
    (s) =>
      `${s.target}: ${s.delivered} frames delivered, ${s.droppedQueueFull} dropped (queue full), ` +
      `${s.droppedDisconnected} dropped (not acknowledged: collector unreachable or stream lost), ${s.reconnects} reconnects` +
      (s.movedAway ? `, ${s.movedAway} frames of its flows sent to other collectors while it was down` : ''),
  );
  if (droppedNoCollector) lines.push(`${droppedNoCollector} frames dropped (no collector up)`);
  return lines;
}

/** Every second: after WAIT_NOTICE_S seconds without room for the file's batches, one line naming the collectors that are down. */
function waitingForCollectorNotice(fanout: GrpcFanout, err: NodeJS.WritableStream): NodeJS.Timeout {
  let waited = 0;
  const timer = setInterval(() => {
    waited = fanout.hasRoom() ? 0 : waited + 1;
    if (waited < WAIT_NOTICE_S) return;
    const down = fanout.forwarders.filter((f) => !f.up).map((f) => `${f.name} (${readableGrpcError(f.stats().lastError)})`);
    err.write(`podspan: reading waits for ${down.length ? down.join(', ') : 'the collectors'} to take more frames; Ctrl-C stops, counting what was not delivered\n`);
    clearInterval(timer);
  }, 1000);
  timer.unref();
  return timer;
}
const WAIT_NOTICE_S = 3;

/** The capture file on standard output failed because its reader went away (EPIPE). */
function isClosedPipe(err: unknown): boolean {
  return err instanceof OutputError && /^-: .*Broken pipe$/.test(err.message);
}

/**
 * -Z: the session is open (interfaces, the file read, the first output file): the process becomes
 * `user`. Refused (not root), the session is ended, its file closed valid, and the error said.
 */
async function relinquishPrivileges(session: CaptureSession, user: SystemUser): Promise<void> {
  try {
    becomeUser(user, session.outputFiles());
  } catch (e) {
    session.stop();
    await session.start(undefined);
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`-Z ${user.name}: cannot become that user: ${code === 'EPERM' ? 'not permitted (it takes root: CAP_SETUID, CAP_SETGID and CAP_CHOWN)' : code ?? (e as Error).message}`);
  }
}

export async function runCapture(raw: RawCaptureFlags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const run = parseCaptureFlags(raw);
  if (run.listing === 'interfaces') return runInterfacesLikeTcpdump(out);
  if (run.defaultInterface) run.capture.source = { kind: 'live', interfaces: [defaultInterface()] };
  if (run.listing && run.capture.source.kind === 'live') return runTypesLikeTcpdump(run.listing, run.capture.source.interfaces, out, err);
  if (run.capture.forward) run.capture.forward = await resolveTargets(run.capture.forward);
  const grpcTargets = (run.capture.forward ?? []).filter((t) => t.kind === 'grpc');
  const mode = run.stdout;
  if (grpcTargets.length && mode.kind === 'lines') throw new UsageError('--print and --forward grpc:// both need the packet batches: use one of them');
  // gRPC is loaded only when asked for: it costs ~40 ms of start-up.
  // The forwarders' reconnection warnings would interleave JSON with the human summary, which
  // says per target what happened: only errors are logged (PODSPAN_LOG_LEVEL shows more).
  // The forwarders log only errors here (below): a token allowed over plaintext is said in a line.
  for (const t of grpcTargets) {
    if (t.tokenFile && !t.tls) err.write(`podspan: warning: ${t.url}: insecure: the bearer token is sent without TLS, readable by anyone on the path\n`);
  }
  // pino is loaded with gRPC, only when forwarding: it costs ~40 ms before `listening on`.
  const fanout = grpcTargets.length
    ? new (await import('../forward/grpc-fanout')).GrpcFanout(grpcTargets, undefined, (await import('../observability/logger')).logger.child({}, { level: process.env.PODSPAN_LOG_LEVEL ?? 'error' }))
    : undefined;
  if (fanout) run.capture.batches = fanout.batchOptions();
  if (mode.kind === 'lines') run.capture.batches = { flushMs: 50 };

  const session = CaptureSession.open(run.capture);
  if (run.runAs) await relinquishPrivileges(session, run.runAs);
  for (const w of session.warnings) err.write(`podspan: warning: ${w}\n`);
  const interfaces = session.interfaces();
  const live = run.capture.source.kind === 'live';
  if (live) {
    for (const i of interfaces) err.write(`listening on ${i.name}, link-type ${linkTypeText(i.linktype)}, snapshot length ${i.snaplen} bytes\n`);
  } else if (interfaces.length && run.capture.source.kind === 'file') {
    // As tcpdump, with the first interface the file shows at its start (-V: the first file's).
    const { path, morePaths } = run.capture.source;
    const more = morePaths?.length ? `, then ${morePaths.length} more file${morePaths.length > 1 ? 's' : ''} of the -V list` : '';
    // As libpcap: a snapshot length of 0 ("no limit") is the largest it captures.
    const snaplen = interfaces[0].snaplen || MAX_SNAPLEN;
    err.write(`reading from file ${path}, link-type ${linkTypeText(interfaces[0].linktype)}, snapshot length ${snaplen}${more}\n`);
  }

  const stop = () => session.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const timer = run.durationSeconds ? setTimeout(stop, run.durationSeconds * 1000) : undefined;
  // A closed pipe (`| head`) stops the capture; nothing more is written to it. Any other failure
  // (a full disk; main() says which) lost lines: the exit status says so too.
  let pipeClosed = false;
  let outputFailed = false;
  const onOutError = (e: NodeJS.ErrnoException) => {
    pipeClosed = true;
    outputFailed ||= e.code !== 'EPIPE';
    stop();
  };
  out.on('error', onOutError);
  fanout?.start(session);
  // Reading a file waits for a collector that stopped taking batches: say so once, not silently.
  const waitNotice = fanout && !live ? waitingForCollectorNotice(fanout, err) : undefined;

  // -z: the files rotation closes, taken as they close (the last one is not: tcpdump's too).
  const postRotate = run.postRotateCommand ? new PostRotate(run.postRotateCommand, err) : undefined;
  const rotatedPoll = postRotate ? setInterval(() => postRotate.add(session.takeRotatedFiles()), 250).unref() : undefined;

  let names = interfaces.map((i) => i.name);
  let linktypes = interfaces.map((i) => i.linktype);
  const printer = mode.kind === 'lines' ? new PacketPrinter(mode.print) : undefined;
  if (printer) {
    // Lines wait for a slow reader (`| less`): a file's reading waits with them, as tcpdump's.
    const printLines = (batch: PacketBatch) => {
      if (pipeClosed) return;
      let text = '';
      for (let k = 0; k < batch.count; k++) {
        const idx = batch.iface(k);
        if (idx >= names.length) {
          const now = session.interfaces();
          names = now.map((i) => i.name);
          linktypes = now.map((i) => i.linktype);
        }
        // Several live interfaces in one capture (tcpdump takes one): say which, as cooked v2 lines do.
        const prefix = live && names.length > 1 ? `${(names[idx] || `if${idx}`).padEnd(5)} ` : '';
        text += printer.line(batch.timestampNs(k), linktypes[idx] ?? 1, batch.packet(k), batch.origlen(k), prefix) + '\n';
      }
      out.write(text);
    };
    session.onPacketBatches(printLines, outputFlow(out, () => pipeClosed));
  }
  const result = await session.start(undefined, undefined, fanout);
  if (timer) clearTimeout(timer);
  if (waitNotice) clearInterval(waitNotice);
  if (rotatedPoll) clearInterval(rotatedPoll);
  if (postRotate) {
    postRotate.add(result.rotatedFiles);
    await postRotate.done();
  }
  const grpcStats = fanout ? await fanout.close() : [];
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);

  if (mode.kind === 'count') {
    out.write(`${result.stats.reduce((n, st) => n + st.captured, 0)} packets\n`);
    if (result.error) throw result.error;
    return outputFailed ? 1 : 0;
  }
  if (mode.kind === 'lines' && !pipeClosed) err.write('\n');
  for (const line of [...summaryLines(result, live), ...grpcSummary(grpcStats, fanout?.droppedNoCollector ?? 0)]) err.write(line + '\n');
  if (result.error && !(run.fileToStdout && isClosedPipe(result.error))) throw result.error;
  // Nothing delivered to a collector that never answered: the run did not do what was asked.
  const unreached = grpcStats.filter((g) => !g.everConnected);
  for (const g of unreached) err.write(`podspan: ${g.target}: never connected: ${readableGrpcError(g.lastError)}\n`);
  return unreached.length || outputFailed || postRotate?.failed ? 1 : 0;
}
