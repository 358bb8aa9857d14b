// Flow records (native analytics) judged by tshark on the same captures: per connection the
// handshake RTT equals tcp.analysis.initial_rtt to the microsecond, retransmitted packets the
// count of tcp.analysis.retransmission (fast and spurious ones carry it too), out-of-order the
// count of tcp.analysis.out_of_order, zero windows the count of tcp.analysis.zero_window.
// On a crafted capture (one connection per case: RTO and fast retransmissions, reordering, zero
// windows, RST to SYN, unanswered SYNs, reset, midstream) and on the corpus's TCP captures.
//
// Where our definitions differ from tshark's (also in README.md, Analytics):
// | field                  | ours                                                | tshark                                             |
// |------------------------|-----------------------------------------------------|----------------------------------------------------|
// | handshake_rtt_ms       | null unless a SYN/ACK came between SYN and the ACK; | initial_rtt: latest SYN to the first ACK-without-   |
// |                        | a RST/ACK never completes a handshake               | SYN, whatever came between (a RST/ACK to a SYN too) |
// | all counters, packets  | segments while the reassembler tracks the flow: a   | every segment of the conversation                  |
// |                        | bare ACK/RST/FIN after the close (both FINs, a RST) |                                                    |
// |                        | or before a midstream flow's first payload starts   |                                                    |
// |                        | no flow and is not counted                          |                                                    |
// | truncated TCP header   | a segment whose TCP header the snaplen cut is not   | analyses the header fields it has                  |
// |                        | analysed (a SYN cut so loses the handshake RTT)     |                                                    |
// The corpus comparison counts tshark's frames over our flow's first to last packet (so the
// segments outside a flow are left out as named above) and leaves out TCP headers quoted in
// ICMP errors, which tshark files under the connection's tcp.stream.
// | handshake_rtt_ms = 0  | SYN and its ACK with the same timestamp: 0.000     | 0 means "not yet": the next ACK's delta, if any    |
// | flow boundaries        | a new SYN with another ISN after data starts a new  | tcp.stream: its own conversation rules             |
// |                        | flow; idle past the timeout closes it               |                                                    |
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecords as readAll, type AnalysisOptions } from '../../src/analysis/native-records';
import { ipv4Frame, writePcap, type CraftedPacket } from '../helpers/craft';
import { corpusDir, corpusEntries, repoRoot, run } from '../helpers/tools';

const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08, RST = 0x04;
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-analysis-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Judged {
  initialRtt?: string; // seconds, as tshark prints it
  retransmissions: number;
  outOfOrder: number;
  zeroWindows: number;
  packets: number;
}

interface JudgedFrame {
  us: number; // capture time, µs since the epoch
  rtt: string;
  retransmission: boolean;
  outOfOrder: boolean;
  zeroWindow: boolean;
}

const endpointKey = (a: string, pa: number | string, b: string, pb: number | string) => [`${a}|${pa}`, `${b}|${pb}`].sort().join(' ');
/** "1700000000.123456789" (tshark) or "2023-11-14T22:13:20.123456789Z" (ours) to µs since the epoch. */
const epochUs = (t: string) => {
  const [whole, frac = ''] = t.replace('Z', '').split('.');
  const secs = whole.includes('T') ? Date.parse(`${whole}Z`) / 1000 : Number(whole);
  return secs * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6));
};

/** tshark's analysis flags per frame, by conversation (keyed by its endpoints); a key with two tcp.streams maps to null. */
function tsharkStreams(file: string): Map<string, JudgedFrame[] | null> {
  const r = run('tshark', ['-n', '-r', file, '-Y', 'tcp && !icmp && !icmpv6', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=l',
    '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport',
    '-e', 'tcp.analysis.initial_rtt', '-e', 'tcp.analysis.retransmission', '-e', 'tcp.analysis.out_of_order', '-e', 'tcp.analysis.zero_window']);
  const byStream = new Map<string, { key: string; frames: JudgedFrame[] }>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [stream, time, src4, src6, sport, dst4, dst6, dport, rtt, retrans, ooo, zw] = line.split('\t');
    const s = byStream.get(stream) ?? { key: endpointKey(src4 || src6, sport, dst4 || dst6, dport), frames: [] };
    s.frames.push({ us: epochUs(time), rtt, retransmission: retrans !== '', outOfOrder: ooo !== '', zeroWindow: zw !== '' });
    byStream.set(stream, s);
  }
  const out = new Map<string, JudgedFrame[] | null>();
  for (const s of byStream.values()) out.set(s.key, out.has(s.key) ? null : s.frames);
  return out;
}

function count(seen: JudgedFrame[]): Judged {
  return {
    initialRtt: seen.find((f) => f.rtt)?.rtt,
    retransmissions: seen.filter((f) => f.retransmission).length,
    outOfOrder: seen.filter((f) => f.outOfOrder).length,
    zeroWindows: seen.filter((f) => f.zeroWindow).length,
    packets: seen.length,
  };
}

/**
 * tshark's counts over its frames from the first at our flow's first packet's time to one at
 * its last packet's time (in file order: capture times may run backwards). Several frames may
 * share the last time (duplicates); the window that holds as many packets as ours is taken.
 */
function judgeWindow(frames: JudgedFrame[], fromUs: number, untilUs: number, packets: number): Judged {
  const start = Math.max(0, frames.findIndex((f) => f.us === fromUs));
  let best = count(frames.slice(start));
  for (let i = start; i < frames.length; i++) {
    if (frames[i].us !== untilUs) continue;
    best = count(frames.slice(start, i + 1));
    if (best.packets >= packets) break;
  }
  return best;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Flow = Record<string, any>;
async function readRecords(file: string, options: AnalysisOptions = {}) {
  const r = await readAll(file, options);
  return { ...r, flows: r.flows as Flow[] };
}
const flowKey = (f: Flow) => endpointKey(f.client, f.client_port, f.server, f.server_port);
/** tshark prints seconds with 9 decimals; ours is ms with 3: both to the microsecond. */
const rttUs = (seconds: string) => Math.round(Number(seconds) * 1e6);
const msUs = (ms: number) => Math.round(ms * 1000);

function craftedCapture(): string {
  const pkts: CraftedPacket[] = [];
  const t0 = 1_700_000_000_000_000_000n;
  // One connection per case, 10 s apart; client 198.18.0.1:<port>, server 198.18.0.2:80.
  const conn = (n: number, port: number, serverPort = 80) => (ms: number, fromClient: boolean, seq: number, ack: number, flags: number, payload = '', window = 1000) =>
    pkts.push({
      tsNs: t0 + BigInt(n) * 10_000_000_000n + BigInt(Math.round(ms * 1000)) * 1000n,
      frame: ipv4Frame({ proto: 6, src: fromClient ? '198.18.0.1' : '198.18.0.2', dst: fromClient ? '198.18.0.2' : '198.18.0.1', sport: fromClient ? port : serverPort, dport: fromClient ? serverPort : port, payload: Buffer.from(payload), seq, ack, flags, window }),
    });
  const handshake = (c: ReturnType<typeof conn>) => {
    c(0, true, 1000, 0, SYN);
    c(10.25, false, 5000, 1001, SYN | ACK);
    c(12.345, true, 1001, 5001, ACK);
  };
  // 1: a clean exchange, closed by FINs.
  let c = conn(0, 40001);
  handshake(c);
  c(20, true, 1001, 5001, ACK | PSH, 'GET / HTTP/1.1\r\n\r\n');
  c(30, false, 5001, 1019, ACK | PSH, 'HTTP/1.1 200 OK\r\n\r\nhello');
  c(31, true, 1019, 5025, ACK | FIN);
  c(32, false, 5025, 1020, ACK | FIN);
  c(33, true, 1020, 5026, ACK);
  // 2: a retransmission after a timeout, then two zero windows, a probe, a window update.
  c = conn(1, 40002);
  handshake(c);
  c(20, true, 1001, 5001, ACK | PSH, 'abcd');
  c(320, true, 1001, 5001, ACK | PSH, 'abcd');
  c(330, false, 5001, 1005, ACK, '', 0);
  c(600, true, 1005, 5001, ACK | PSH, 'e');
  c(601, false, 5001, 1005, ACK, '', 0);
  c(900, false, 5001, 1005, ACK, '', 800);
  c(901, true, 1005, 5001, ACK | PSH, 'efgh');
  c(910, false, 5001, 1009, ACK | FIN);
  c(911, true, 1009, 5002, ACK | FIN);
  // 3: two segments swapped within the RTT.
  c = conn(2, 40003);
  handshake(c);
  c(20, true, 1005, 5001, ACK | PSH, 'efgh');
  c(20.5, true, 1001, 5001, ACK | PSH, 'abcd');
  c(30, false, 5001, 1009, ACK);
  // 4: RST answers the SYN.
  c = conn(3, 40004);
  c(0, true, 1000, 0, SYN);
  c(0.75, false, 0, 1001, RST | ACK);
  // 5: SYNs never answered.
  c = conn(4, 40005);
  c(0, true, 1000, 0, SYN);
  c(1000, true, 1000, 0, SYN);
  c(3000, true, 1000, 0, SYN);
  // 6: a fast retransmission after three duplicate ACKs, then a spurious one.
  c = conn(5, 40006);
  handshake(c);
  c(20, true, 1001, 5001, ACK | PSH, 'aaaa');
  c(21, true, 1005, 5001, ACK | PSH, 'bbbb');
  c(22, true, 1009, 5001, ACK | PSH, 'cccc');
  c(30, false, 5001, 1001, ACK);
  c(31, false, 5001, 1001, ACK);
  c(32, false, 5001, 1001, ACK);
  c(40, true, 1001, 5001, ACK | PSH, 'aaaa');
  c(50, false, 5001, 1013, ACK);
  c(400, true, 1005, 5001, ACK | PSH, 'bbbb');
  // 7: reset after the handshake.
  c = conn(6, 40007);
  handshake(c);
  c(20, true, 1001, 5001, ACK | PSH, 'x');
  c(25, false, 5001, 1002, RST | ACK);
  // 8: picked up midstream (no handshake), server on 8080; still open at the end.
  c = conn(7, 40008, 8080);
  c(0, false, 7001, 3001, ACK | PSH, 'response');
  c(1, true, 3001, 7009, ACK);
  // 9: the SYN repeated 1 ms later (within the 3 ms reorder threshold): a retransmission, not out-of-order.
  c = conn(8, 40009);
  c(0, true, 1000, 0, SYN);
  c(1, true, 1000, 0, SYN);
  c(10, false, 5000, 1001, SYN | ACK);
  c(11, true, 1001, 5001, ACK);
  // 10: a segment the server acknowledged already, repeated within the RTT: spurious (a retransmission).
  c = conn(9, 40010);
  handshake(c);
  c(20, true, 1001, 5001, ACK | PSH, 'abcd');
  c(20.1, true, 1005, 5001, ACK | PSH, 'efgh');
  c(20.2, false, 5001, 1009, ACK);
  c(20.4, true, 1001, 5001, ACK | PSH, 'abcd');
  const file = path.join(tmp, 'crafted.pcap');
  writePcap(file, pkts);
  return file;
}

describe('flow records against tshark', () => {
  it('a crafted capture: each state, and every counter equal to tshark per connection', async () => {
    const file = craftedCapture();
    const { flows, stats } = await readRecords(file);
    const byPort = new Map(flows.map((f) => [f.client_port as number, f]));
    expect(flows.length).toBe(10);
    expect([...byPort.keys()].sort()).toEqual([40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009, 40010]);
    expect(Object.fromEntries([...byPort].map(([p, f]) => [p, f.state]))).toEqual({
      40001: 'closed', 40002: 'closed', 40003: 'established', 40004: 'rejected', 40005: 'syn_unanswered',
      40006: 'established', 40007: 'reset', 40008: 'midstream', 40009: 'established', 40010: 'established',
    });
    expect(byPort.get(40008)!.server_port).toBe(8080);
    expect(stats?.records.flows).toBe(10);
    expect(stats?.droppedRecords).toBe(0);

    const judged = tsharkStreams(file);
    for (const f of flows) {
      const frames = judged.get(flowKey(f));
      expect(frames, `tshark has the connection of port ${f.client_port}`).toBeTruthy();
      const j = count(frames!);
      const what = `port ${f.client_port}`;
      expect(f.retransmitted_packets, what).toBe(j!.retransmissions);
      expect(f.out_of_order_packets, what).toBe(j!.outOfOrder);
      expect(f.zero_window_events, what).toBe(j!.zeroWindows);
      if (f.state === 'rejected') {
        expect(f.handshake_rtt_ms).toBeNull(); // tshark: SYN to the RST/ACK (a named difference)
        expect(j!.initialRtt).toBe('0.000750000');
      } else if (j!.initialRtt === undefined) {
        expect(f.handshake_rtt_ms, what).toBeNull();
      } else {
        expect(msUs(f.handshake_rtt_ms), what).toBe(rttUs(j!.initialRtt));
      }
    }
    // The counters the cases were made for (so the comparison above is not all zeros).
    expect(byPort.get(40002)!.retransmitted_packets).toBe(1);
    expect(byPort.get(40002)!.zero_window_events).toBe(2);
    expect(byPort.get(40003)!.out_of_order_packets).toBe(1);
    expect(byPort.get(40005)!.retransmitted_packets).toBe(2);
    expect(byPort.get(40006)!.retransmitted_packets).toBe(2);
    expect(byPort.get(40009)!.retransmitted_packets).toBe(1);
    expect(byPort.get(40009)!.out_of_order_packets).toBe(0);
    expect(byPort.get(40010)!.retransmitted_packets).toBe(1);
    expect(byPort.get(40010)!.out_of_order_packets).toBe(0);
  });

  it('a clean connection gives exactly this record', async () => {
    const file = craftedCapture();
    const { flows } = await readRecords(file);
    expect(flows.find((f) => f.client_port === 40001)).toEqual({
      uid: 'C1', ts: '2023-11-14T22:13:20.000000000Z', client: '198.18.0.1', client_port: 40001, server: '198.18.0.2', server_port: 80,
      proto: 'tcp', duration_ms: 32, client_bytes: 18, server_bytes: 24, client_packets: 4, server_packets: 3,
      handshake_rtt_ms: 12.345, client_rtt_ms: 2.095, server_rtt_ms: 10.25, retransmitted_packets: 0, out_of_order_packets: 0,
      zero_window_events: 0, missed_bytes: 0, state: 'closed', close_reason: 'fin', app: 'http', // its 18 bytes are an HTTP/1.1 request
    });
  });

  it('a one-batch queue with tiny batches loses no record when reading a file', async () => {
    const file = craftedCapture();
    const { flows, stats } = await readRecords(file, { maxBytes: 64, queueBatches: 1 });
    expect(flows.length).toBe(10);
    expect(stats?.batches).toBeGreaterThanOrEqual(10);
    expect(stats?.droppedRecords).toBe(0);
  });

  it('connections only: the same flow records (app null), no request records, and no application analyser', async () => {
    for (const file of [craftedCapture(), path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap'), path.join(repoRoot, 'fixtures', 'sample-20.pcap')]) {
      const full = await readRecords(file);
      const only = await readRecords(file, { connectionsOnly: true });
      expect(only.flows, file).toEqual(full.flows.map((f) => ({ ...f, app: null })));
      expect(only.http.length + only.dns.length, file).toBe(0);
      expect(only.stats?.app, file).toBe(false);
      expect(full.stats?.app, file).toBe(true);
    }
  });

  it('the flow timeout closes idle connections as timeout', async () => {
    const file = craftedCapture();
    const { flows } = await readRecords(file, { flowTimeoutSeconds: 5 });
    const byPort = new Map(flows.map((f) => [f.client_port as number, f]));
    expect(byPort.get(40003)!.state).toBe('timeout'); // idle 10 s before the next connection
    expect(byPort.get(40003)!.close_reason).toBe('timeout');
    expect(byPort.get(40010)!.state).toBe('established'); // the last one: open at the end
  });
});

describe('flow records against tshark on the corpus', () => {
  const dir = corpusDir();
  if (!dir) {
    it.skip('corpus absent (set PODSPAN_CORPUS or put it at ../shared/corpus): corpus comparisons not run', () => {});
    return;
  }
  const entries = corpusEntries(dir).filter((e) => !e.corrupt && e.categories.some((c) => c.startsWith('tcp')));
  it(`every TCP capture (${entries.length}): per connection, counters and handshake RTT equal tshark's`, async () => {
    const mismatches: string[] = [];
    let compared = 0, skipped = 0, rtts = 0, retransmissions = 0;
    for (const e of entries) {
      const { flows } = await readRecords(e.path);
      const judged = tsharkStreams(e.path);
      const ours = new Map<string, number>();
      for (const f of flows) ours.set(flowKey(f), (ours.get(flowKey(f)) ?? 0) + 1);
      for (const f of flows) {
        const frames = judged.get(flowKey(f));
        if (!frames || ours.get(flowKey(f)) !== 1) {
          skipped++; // a 4-tuple reused: not one conversation on both sides
          continue;
        }
        // Segments before our flow opened (a midstream connection's bare ACKs) or after it closed
        // (a last ACK, a repeated FIN) belong to no flow here: tshark is counted over our flow's
        // first to last packet (a named difference).
        const first = epochUs(f.ts);
        const j = judgeWindow(frames, first, first + Math.round(f.duration_ms * 1000), f.client_packets + f.server_packets);
        if (j.packets !== f.client_packets + f.server_packets) {
          mismatches.push(`${e.file} ${flowKey(f)}: packets ${f.client_packets + f.server_packets} vs ${j.packets}`);
          continue;
        }
        compared++;
        const where = `${e.file} ${flowKey(f)}`;
        if (f.retransmitted_packets !== j.retransmissions) mismatches.push(`${where}: retransmissions ${f.retransmitted_packets} vs ${j.retransmissions}`);
        if (f.out_of_order_packets !== j.outOfOrder) mismatches.push(`${where}: out-of-order ${f.out_of_order_packets} vs ${j.outOfOrder}`);
        if (f.zero_window_events !== j.zeroWindows) mismatches.push(`${where}: zero windows ${f.zero_window_events} vs ${j.zeroWindows}`);
        retransmissions += f.retransmitted_packets;
        if (f.handshake_rtt_ms === 0 && j.initialRtt === undefined) continue; // tshark: a zero delta is "not yet" (named above)
        if (f.handshake_rtt_ms !== null) {
          rtts++;
          if (j.initialRtt === undefined || msUs(f.handshake_rtt_ms) !== rttUs(j.initialRtt)) mismatches.push(`${where}: handshake ${f.handshake_rtt_ms} ms vs ${j.initialRtt} s`);
        }
      }
    }
    console.log(`corpus: ${compared} connections compared with tshark (${skipped} with a reused 4-tuple skipped), ${rtts} handshake RTTs, ${retransmissions} retransmissions`);
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(20);
    expect(rtts).toBeGreaterThan(5);
  }, 300_000);
});
