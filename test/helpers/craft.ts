// Writes small, exactly known captures for tests: Ethernet/IPv4 UDP and TCP frames in a
// classic pcap file (microsecond timestamps, little endian).
import fs from 'node:fs';

export interface CraftedPacket {
  tsNs: bigint;
  frame: Buffer;
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

export function ipv4Frame(opts: { proto: 6 | 17; src: string; dst: string; sport: number; dport: number; payload: Buffer; seq?: number; flags?: number; ack?: number; window?: number }): Buffer {
  const l4 = opts.proto === 17 ? Buffer.alloc(8) : Buffer.alloc(20);
  l4.writeUInt16BE(opts.sport, 0);
  l4.writeUInt16BE(opts.dport, 2);
  if (opts.proto === 17) {
    l4.writeUInt16BE(8 + opts.payload.length, 4);
  } else {
    l4.writeUInt32BE((opts.seq ?? 1000) >>> 0, 4);
    l4.writeUInt32BE((opts.ack ?? 0) >>> 0, 8);
    l4[12] = 5 << 4;
    l4[13] = opts.flags ?? 0x18; // default PSH ACK
    l4.writeUInt16BE(opts.window ?? 65535, 14);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length + opts.payload.length, 2);
  ip[8] = 64;
  ip[9] = opts.proto;
  opts.src.split('.').forEach((o, i) => (ip[12 + i] = Number(o)));
  opts.dst.split('.').forEach((o, i) => (ip[16 + i] = Number(o)));
  ip.writeUInt16BE(checksum(ip), 10);
  const eth = Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  return Buffer.concat([eth, ip, l4, opts.payload]);
}

/**
 * TCP segments between a client 198.18.0.1 and a server 198.18.0.2:80, 1 ms apart, in the
 * order `tcp` is called (so a test lays out reordering, loss and retransmission itself).
 */
export function tcpConversation(): { packets: CraftedPacket[]; tcp: (fromClient: boolean, seq: number, flags: number, payload?: string | Buffer, clientPort?: number) => void } {
  let t = 0n;
  const packets: CraftedPacket[] = [];
  const tcp = (fromClient: boolean, seq: number, flags: number, payload: string | Buffer = '', clientPort = 40000) =>
    packets.push({
      tsNs: 1_700_000_000_000_000_000n + (t += 1_000_000n),
      frame: ipv4Frame({ proto: 6, src: fromClient ? '198.18.0.1' : '198.18.0.2', dst: fromClient ? '198.18.0.2' : '198.18.0.1', sport: fromClient ? clientPort : 80, dport: fromClient ? 80 : clientPort, payload: Buffer.from(payload), seq, flags }),
    });
  return { packets, tcp };
}

const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08;

/**
 * One connection with what reassembly must straighten out: the client's "world " ahead of its
 * "hello ", "hello " retransmitted, and 5 bytes of the server's answer never captured (client
 * stream "hello world ", server stream "HTTP/1.1 200", 5 missing, "tail"); both sides FIN.
 */
export function untidyConnection(tcp: ReturnType<typeof tcpConversation>['tcp']): void {
  tcp(true, 100, SYN);
  tcp(false, 900, SYN | ACK);
  tcp(true, 107, ACK | PSH, 'world '); // ahead of "hello "
  tcp(true, 101, ACK | PSH, 'hello ');
  tcp(true, 101, ACK | PSH, 'hello '); // retransmission
  tcp(false, 901, ACK | PSH, 'HTTP/1.1 200');
  tcp(false, 918, ACK | PSH, 'tail'); // 5 bytes [913, 918) never captured
  tcp(true, 113, ACK | FIN);
  tcp(false, 922, ACK | FIN);
}

/** An IPv6 address's 16 bytes from its text (with "::" and a dotted IPv4 tail, as RFC 4291 writes them). */
export function ipv6Bytes(text: string): Buffer {
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  const hex = quad ? text.slice(0, quad.index) + [0, 2].map((i) => ((Number(quad[i + 1]) << 8) | Number(quad[i + 2])).toString(16)).join(':') : text;
  const [head, tail] = hex.includes('::') ? hex.split('::') : [hex, undefined];
  const words = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const [a, b] = [words(head), words(tail)];
  const all = tail === undefined ? a : [...a, ...Array<number>(8 - a.length - b.length).fill(0), ...b];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, 2 * i));
  return out;
}

/** An Ethernet/IPv6/TCP frame (checksum over the IPv6 pseudo-header). */
export function ipv6TcpFrame(opts: { src: string; dst: string; sport: number; dport: number; payload: Buffer; seq: number; flags: number; ack?: number }): Buffer {
  const [src, dst] = [ipv6Bytes(opts.src), ipv6Bytes(opts.dst)];
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(opts.sport, 0);
  tcp.writeUInt16BE(opts.dport, 2);
  tcp.writeUInt32BE(opts.seq >>> 0, 4);
  tcp.writeUInt32BE((opts.ack ?? 0) >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = opts.flags;
  tcp.writeUInt16BE(65535, 14);
  const length = tcp.length + opts.payload.length;
  const pseudo = Buffer.alloc(40);
  src.copy(pseudo, 0);
  dst.copy(pseudo, 16);
  pseudo.writeUInt32BE(length, 32);
  pseudo[39] = 6;
  tcp.writeUInt16BE(checksum(Buffer.concat([pseudo, tcp, opts.payload])), 16);
  const ip = Buffer.alloc(40);
  ip[0] = 0x60;
  ip.writeUInt16BE(length, 4);
  ip[6] = 6;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  const eth = Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd]);
  return Buffer.concat([eth, ip, tcp, opts.payload]);
}

/** n packets alternating UDP port 5000 and TCP port 80, 1 ms apart, payload sizes varying. */
export function samplePackets(n: number, startSec = 1_700_000_000): CraftedPacket[] {
  const out: CraftedPacket[] = [];
  for (let i = 0; i < n; i++) {
    const payload = Buffer.alloc(10 + ((i * 37) % 400), i & 0xff);
    const udp = i % 2 === 0;
    out.push({
      tsNs: BigInt(startSec) * 1_000_000_000n + BigInt(i) * 1_000_000n + 123_000n,
      frame: ipv4Frame({ proto: udp ? 17 : 6, src: '198.18.0.1', dst: '198.18.0.2', sport: 40000 + (i % 7), dport: udp ? 5000 : 80, payload }),
    });
  }
  return out;
}

/** A classic pcap file header (microseconds, little endian). */
export function pcapHeader(opts: { snaplen?: number; linktype?: number } = {}): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(opts.snaplen ?? 262144, 16);
  header.writeUInt32LE(opts.linktype ?? 1, 20);
  return header;
}

export function writePcap(file: string, packets: CraftedPacket[], opts: { snaplen?: number; linktype?: number } = {}): void {
  const parts: Buffer[] = [pcapHeader(opts)];
  for (const p of packets) {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Number(p.tsNs / 1_000_000_000n), 0);
    rec.writeUInt32LE(Number((p.tsNs % 1_000_000_000n) / 1000n), 4);
    rec.writeUInt32LE(p.frame.length, 8);
    rec.writeUInt32LE(p.frame.length, 12);
    parts.push(rec, p.frame);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}
