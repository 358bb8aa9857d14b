// Crafted traffic at scale for the detection tests: a streaming pcap writer (a million packets
// without holding them), whole HTTP/1.1 keep-alive connections with requests at given times,
// SYN floods and datagrams from many distinct sources. Times are ns since the epoch.
import fs from 'node:fs';
import { ipv4Frame, pcapHeader } from './craft';

const SYN = 0x02, ACK = 0x10, PSH_ACK = 0x18, FIN_ACK = 0x11;

/** A classic pcap (microseconds) written as packets come, in 1 MiB writes. */
export class PcapStream {
  private readonly fd: number;
  private parts: Buffer[] = [];
  private bytes = 0;
  packets = 0;

  constructor(file: string) {
    this.fd = fs.openSync(file, 'w');
    this.push(pcapHeader());
  }

  add(tsNs: number, frame: Buffer): void {
    const rec = Buffer.alloc(16);
    const us = Math.round(tsNs / 1000);
    rec.writeUInt32LE(Math.floor(us / 1e6), 0);
    rec.writeUInt32LE(us % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    this.push(rec);
    this.push(frame);
    this.packets++;
  }

  private push(b: Buffer): void {
    this.parts.push(b);
    this.bytes += b.length;
    if (this.bytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    fs.writeSync(this.fd, Buffer.concat(this.parts));
    this.parts = [];
    this.bytes = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

export interface HttpExchange {
  /** When the request is sent (ns); the response follows `latencyNs` later. */
  atNs: number;
  path: string;
  status?: number;
  latencyNs?: number;
}

/**
 * One keep-alive HTTP/1.1 connection from client:port to server:80 carrying `exchanges` in order
 * (each request answered before the next is sent): handshake, request/response pairs, FINs.
 * Frames are added to `out` in time order only if the caller merges connections by time: use
 * connectionFrames() and sort when connections overlap.
 */
export function connectionFrames(client: string, clientPort: number, server: string, exchanges: HttpExchange[], serverPort = 80): { tsNs: number; frame: Buffer }[] {
  const out: { tsNs: number; frame: Buffer }[] = [];
  let cseq = 1000, sseq = 5000;
  const c2s = (tsNs: number, flags: number, payload = Buffer.alloc(0)) => {
    out.push({ tsNs, frame: ipv4Frame({ proto: 6, src: client, dst: server, sport: clientPort, dport: serverPort, payload, seq: cseq, ack: sseq, flags }) });
    cseq += payload.length + (flags & (SYN | 0x01) ? 1 : 0);
  };
  const s2c = (tsNs: number, flags: number, payload = Buffer.alloc(0)) => {
    out.push({ tsNs, frame: ipv4Frame({ proto: 6, src: server, dst: client, sport: serverPort, dport: clientPort, payload, seq: sseq, ack: cseq, flags }) });
    sseq += payload.length + (flags & (SYN | 0x01) ? 1 : 0);
  };
  const start = exchanges[0].atNs - 300_000;
  c2s(start, SYN);
  s2c(start + 100_000, SYN | ACK);
  c2s(start + 200_000, ACK);
  let last = start + 200_000;
  for (const e of exchanges) {
    c2s(e.atNs, PSH_ACK, Buffer.from(`GET ${e.path} HTTP/1.1\r\nHost: ${server}\r\n\r\n`));
    const body = 'ok';
    const status = e.status ?? 200;
    last = e.atNs + (e.latencyNs ?? 1_000_000);
    s2c(last, PSH_ACK, Buffer.from(`HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  }
  c2s(last + 100_000, FIN_ACK);
  s2c(last + 200_000, FIN_ACK);
  c2s(last + 300_000, ACK);
  return out;
}

/** A TCP SYN from src:sport to dst:dport. */
export function synFrame(src: string, sport: number, dst: string, dport: number): Buffer {
  return ipv4Frame({ proto: 6, src, dst, sport, dport, payload: Buffer.alloc(0), flags: SYN, seq: 1 });
}

/** The n-th address of 10.0.0.0/8 from 10.64.0.0 on: distinct for n below 4 M. */
export function nthAddress(n: number): string {
  const v = 0x0a400000 + n;
  return `10.${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
}

/** A UDP datagram src:sport -> dst:dport with a small payload. */
export function udpFrame(src: string, sport: number, dst: string, dport: number): Buffer {
  return ipv4Frame({ proto: 17, src, dst, sport, dport, payload: Buffer.alloc(18, 0x41) });
}
