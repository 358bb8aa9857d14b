#!/usr/bin/env node
// Writes a SYN flood capture for the detection benchmark: PACKETS SYNs to 198.18.0.2:80 from
// SOURCES spoofed addresses (203.x.y.z, cycling) at RATE a second of capture time, after a
// quiet minute of 20 completed handshakes a second. Ethernet/IPv4, microsecond pcap (a 5 M packet
// file is 350 MB).
//   node bench/make-syn-flood-capture.js OUT.pcap [--packets 5000000] [--sources 1000000] [--rate 100000]
'use strict';
const { TcpPcapWriter } = require('../scripts/tcp-pcap-writer');

const args = process.argv.slice(2);
const out = args[0];
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const PACKETS = opt('--packets', 5_000_000);
const SOURCES = opt('--sources', 1_000_000);
const RATE = opt('--rate', 100_000);
if (!out) {
  console.error('usage: make-syn-flood-capture.js OUT.pcap [--packets N] [--sources N] [--rate N]');
  process.exit(2);
}

const T0 = 1_790_000_000;
const w = new TcpPcapWriter(out, { exclusive: true });
const packet = (usec, src, dst, sport, dport, flags, seq, ack) => w.frame(usec, src, dst, sport, dport, seq, ack, flags, 0);

const SERVER = (198 << 24) | (18 << 16) | 2, CLIENT = (198 << 24) | (18 << 16) | (1 << 8);
let sport = 20000;
for (let s = 0; s < 60; s++) {  // a quiet minute: the server's baseline
  for (let i = 0; i < 20; i++) {
    const us = (T0 + s) * 1e6 + i * 50_000;
    const p = (sport = sport >= 60000 ? 20000 : sport + 1);
    packet(us, CLIENT + 1 + (i % 10), SERVER, p, 80, 0x02, 100, 0);
    packet(us + 100, SERVER, CLIENT + 1 + (i % 10), 80, p, 0x12, 900, 101);
    packet(us + 200, CLIENT + 1 + (i % 10), SERVER, p, 80, 0x10, 101, 901);
  }
}
const start = (T0 + 60) * 1e6;
for (let i = 0; i < PACKETS; i++) {
  const src = ((203 << 24) >>> 0) + (i % SOURCES);
  packet(start + Math.floor((i * 1e6) / RATE), src, SERVER, 1024 + (i % 60000), 80, 0x02, i, 0);
}
w.close();
console.log(`${out}: ${PACKETS} SYNs from ${SOURCES} sources at ${RATE}/s after 60 s of 20 handshakes/s`);
