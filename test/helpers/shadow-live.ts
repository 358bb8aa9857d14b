// Run inside a test's network namespace (ip netns exec NS vite-node this-file IFACE [METHODS]): a
// live capture on IFACE with shadow extraction on. Prints "listening" on stderr once capturing;
// on SIGINT stops and prints {lines, stats} on stdout, each body replaced by its length and
// SHA-256 (JSON cannot carry a Buffer).
import crypto from 'node:crypto';
import { CaptureSession } from '../../src/capture/session';
import { DEFAULT_SHADOW_CAPTURE, parseExchangeBatch, type ExchangeLine } from '../../src/shadow/native-exchanges';

const digest = (b: Buffer) => ({ length: b.length, sha256: crypto.createHash('sha256').update(b).digest('hex') });

async function main(): Promise<void> {
  const iface = process.argv[2];
  const methods = process.argv[3] ? process.argv[3].split(',') : [];
  const session = await CaptureSession.openAsync({
    source: { kind: 'live', interfaces: [iface] },
    snaplen: 262144,
    promisc: true,
    immediate: true,
    // 32 MiB of kernel ring: a burst of 200 kB answers on a machine busy with other tests must not
    // cost packets (a lost one is a gap, and the test counts gaps).
    bufferKiB: 32768,
    timeoutMs: 50,
    shadow: { ...DEFAULT_SHADOW_CAPTURE, methods, flushMs: 50 },
  });
  const lines: ExchangeLine[] = [];
  session.onExchanges((b) => lines.push(...parseExchangeBatch(b, 'live')));
  const done = session.start();
  process.on('SIGINT', () => session.stop());
  process.stderr.write('listening\n');
  const result = await done;
  const printable = JSON.stringify(lines, (_key, v) =>
    v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data) ? digest(Buffer.from(v.data)) : v,
  );
  process.stdout.write(`{"lines":${printable},"stats":${JSON.stringify(result.shadowStats)}}\n`);
}

main().catch((err) => {
  process.stderr.write(`shadow-live: ${(err as Error).message}\n`);
  process.exit(1);
});
