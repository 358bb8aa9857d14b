// Run inside a test's network namespace (ip netns exec NS vite-node this-file IFACE): a live
// capture on IFACE with analytics on. Prints "listening" on stderr once capturing; on SIGINT
// stops and prints every record batch as {flows, http, dns} arrays of parsed records on stdout.
import { CaptureSession } from '../../src/capture/session';
import { parseJsonLines } from '../../src/analysis/records';

async function main(): Promise<void> {
  const iface = process.argv[2];
  const session = await CaptureSession.openAsync({
    source: { kind: 'live', interfaces: [iface] },
    snaplen: 262144,
    promisc: true,
    immediate: true,
    timeoutMs: 50,
    analysis: { flushMs: 50 },
  });
  const flows: Buffer[] = [], http: Buffer[] = [], dns: Buffer[] = [];
  session.onRecords((b) => {
    flows.push(b.flows);
    http.push(b.http);
    dns.push(b.dns);
  });
  const done = session.start();
  process.on('SIGINT', () => session.stop());
  process.stderr.write('listening\n');
  const result = await done;
  process.stdout.write(
    JSON.stringify({
      flows: parseJsonLines(Buffer.concat(flows), 'live flows'),
      http: parseJsonLines(Buffer.concat(http), 'live http'),
      dns: parseJsonLines(Buffer.concat(dns), 'live dns'),
      stats: result.analysisStats,
      error: result.error?.message,
    }) + '\n',
  );
}

main().catch((err) => {
  process.stderr.write(`analyze-live: ${(err as Error).message}\n`);
  process.exit(1);
});
