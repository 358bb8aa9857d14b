#!/usr/bin/env node
// Writes a SYN flood capture for the detection benchmark: PACKETS TCP SYNs at RATE per second to
// one server (10.0.0.2:80) from SOURCES distinct addresses (10.64.0.0 on) and ports, after 30 s of
// quiet (one SYN a second to the same server, answered: the baseline). Ethernet/IPv4, microsecond
// pcap, deterministic, written in 8 MiB pieces (5 M packets: 350 MB).
//   node bench/make-synflood-capture.js OUT.pcap [--packets 5000000] [--rate 200000] [--sources 1000000]
'use strict';
const fs = require('node:fs');

const args = process.argv.slice(2);
const out = args[0];
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const PACKETS = opt('--packets', 5_000_000);
const RATE = opt('--rate', 200_000);
const SOURCES = opt('--sources', 1_000_000);
if (!out) {
  console.error('usage: make-synflood-capture.js OUT.pcap [--packets N] [--rate N] [--sources N]');
  process.exit(2);
}

const fd = fs.openSync(out, 'w');
const buf = Buffer.alloc(8 << 20);
let used = 0;
const header = Buffer.alloc(24);
header.writeUInt32LE(0xa1b2c3d4, 0);
header.writeUInt16LE(2, 4);
header.writeUInt16LE(4, 6);
header.writeUInt32LE(65535, 16);
header.writeUInt32LE(1, 20);
fs.writeSync(fd, header);

// One frame template: Ethernet, IPv4 (no options), TCP (no options), no payload: 54 bytes.
const FRAME = 54;
const tpl = Buffer.alloc(FRAME);
Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]).copy(tpl, 0);
tpl[14] = 0x45;
tpl.writeUInt16BE(40, 16);
tpl[22] = 64;
tpl[23] = 6;
tpl.writeUInt32BE(0x0a000002, 30); // dst 10.0.0.2
tpl.writeUInt16BE(80, 36);
tpl[46] = 5 << 4;
tpl.writeUInt16BE(64240, 48);

function ipChecksum(b, off) {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) if (i !== 10) sum += b.readUInt16BE(off + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

function add(tsUs, src, sport, flags, dst = 0x0a000002, dport = 80) {
  if (used + 16 + FRAME > buf.length) {
    fs.writeSync(fd, buf, 0, used);
    used = 0;
  }
  buf.writeUInt32LE(Math.floor(tsUs / 1e6), used);
  buf.writeUInt32LE(tsUs % 1e6, used + 4);
  buf.writeUInt32LE(FRAME, used + 8);
  buf.writeUInt32LE(FRAME, used + 12);
  const f = used + 16;
  tpl.copy(buf, f);
  buf.writeUInt32BE(src >>> 0, f + 26);
  buf.writeUInt32BE(dst >>> 0, f + 30);
  buf.writeUInt16BE(sport, f + 34);
  buf.writeUInt16BE(dport, f + 36);
  buf.writeUInt32BE(12345, f + 38);
  buf[f + 47] = flags;
  buf.writeUInt16BE(ipChecksum(buf, f + 14), f + 24);
  used += 16 + FRAME;
}

const T0 = 1_790_000_000 * 1e6;
// The baseline: one handshake a second for 30 s.
for (let s = 0; s < 30; s++) {
  add(T0 + s * 1e6, 0x0a010001, 40000 + s, 0x02);
  add(T0 + s * 1e6 + 100, 0x0a000002, 80, 0x12, 0x0a010001, 40000 + s);
  add(T0 + s * 1e6 + 200, 0x0a010001, 40000 + s, 0x10);
}
for (let i = 0; i < PACKETS; i++) {
  add(T0 + 30e6 + Math.floor((i * 1e6) / RATE), 0x0a400000 + (i % SOURCES), 1024 + ((i * 7) % 64000), 0x02);
}
fs.writeSync(fd, buf, 0, used);
fs.closeSync(fd);
