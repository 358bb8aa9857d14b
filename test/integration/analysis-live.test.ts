// Analytics on a live capture: real curl against a real HTTP server (Node's http module) in a
// network namespace pair, captured by podspan with analysis on in the client's namespace. The
// flow record's bytes equal what curl reports (request bytes; response headers plus body), the
// handshake is seen and the connection ends closed by FINs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAddressedPair, canUseNetns, inNs, killStarted, removeNamespaces, startInNs } from '../helpers/netns';
import { repoRoot, run } from '../helpers/tools';

const haveCurl = run('which', ['curl']).code === 0;
if (!canUseNetns || !haveCurl) console.log('live analytics test skipped: it needs root, iproute2, trafgen and curl');

const tag = `${process.pid % 100000}`;
const nsC = `paC${tag}`, nsS = `paS${tag}`;
const devC = `pac${tag}`, devS = `pas${tag}`;
const BODY = 300_000;

describe.skipIf(!canUseNetns || !haveCurl)('analytics on a live capture', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-analysis-live-'));
    addAddressedPair(nsC, devC, nsS, devS);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([nsC, nsS]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('curl against a real server: the flow record has curl\'s bytes, a handshake RTT and state closed', async () => {
    const server = path.join(tmp, 'server.js');
    fs.writeFileSync(
      server,
      `const body = Buffer.alloc(${BODY}, 97);
       require('http').createServer((req, res) => res.end(body)).listen(8080, '198.18.0.2', () => console.error('ready'));`,
    );
    const srv = await startInNs(nsS, [process.execPath, server], /ready/);
    const vite = path.join(repoRoot, 'node_modules', '.bin', 'vite-node');
    const cap = await startInNs(nsC, [vite, path.join(repoRoot, 'test', 'helpers', 'analyze-live.ts'), devC], /listening/);
    let out = '';
    cap.child.stdout!.removeAllListeners('data');
    cap.child.stdout!.on('data', (d) => (out += d));

    const curl = inNs(nsC, ['curl', '-s', '-o', '/dev/null', '-w', '%{size_download} %{size_header} %{size_request} %{local_port}', 'http://198.18.0.2:8080/x']);
    const [download, header, request, localPort] = curl.trim().split(' ').map(Number);
    expect(download).toBe(BODY);

    await new Promise((r) => setTimeout(r, 500)); // the FINs and the last ring block
    cap.child.kill('SIGINT');
    expect(await cap.exited).toBe(0);
    srv.child.kill('SIGKILL');
    const { flows, stats } = JSON.parse(out);
    const flow = flows.find((f: Record<string, unknown>) => f.client_port === localPort);
    expect(flow, `records: ${out}`).toBeTruthy();
    expect(flow).toMatchObject({
      client: '198.18.0.1', server: '198.18.0.2', server_port: 8080, proto: 'tcp',
      client_bytes: request, server_bytes: download + header, state: 'closed', close_reason: 'fin',
      retransmitted_packets: 0, missed_bytes: 0,
    });
    expect(flow.handshake_rtt_ms).toBeGreaterThan(0);
    // Each is rounded to the microsecond on its own (live timestamps have ns): the sum may be 1 µs off.
    expect(Math.abs(flow.handshake_rtt_ms - (flow.client_rtt_ms + flow.server_rtt_ms))).toBeLessThanOrEqual(0.001 + 1e-9);
    expect(stats.droppedRecords).toBe(0);
  }, 60_000);
});
