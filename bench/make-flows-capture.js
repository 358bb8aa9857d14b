#!/usr/bin/env node
// Writes a synthetic capture for the stream-writing benchmark: FLOWS TCP connections open at
// once (handshake, then 1448-byte segments interleaved at random across flows, a short reply,
// FIN both ways), REORDER% of data segments swapped with the flow's next one and RETRANSMIT%
// sent again a little later. Payload bytes are a function of (flow, offset), so outputs can be
// compared. Ethernet/IPv4, microsecond pcap, deterministic (seeded).
//   node bench/make-flows-capture.js OUT.pcap [--flows 8000] [--mbytes 1100] [--reorder 5] [--retransmit 2]
'use strict';
const fs = require('node:fs');

const args = process.argv.slice(2);
const out = args[0];
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const FLOWS = opt('--flows', 8000);
const TOTAL = opt('--mbytes', 1100) * 1e6;
const REORDER = opt('--reorder', 5) / 100;
const RETRANSMIT = opt('--retransmit', 2) / 100;
const MSS = 1448;
if (!out) {
  console.error('usage: make-flows-capture.js OUT.pcap [--flows N] [--mbytes N] [--reorder PCT] [--retransmit PCT]');
  process.exit(2);
}

let seed = 0x9e3779b9;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);

const PATTERN = Buffer.alloc(1 << 16);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = Math.floor(rand() * 256);

const fd = fs.openSync(out, 'w');
const CHUNK = 8 << 20;
let buf = Buffer.alloc(CHUNK);
let used = 0;
const flush = () => {
  fs.writeSync(fd, buf, 0, used);
  used = 0;
};
const header = Buffer.alloc(24);
header.writeUInt32LE(0xa1b2c3d4, 0);
header.writeUInt16LE(2, 4);
header.writeUInt16LE(4, 6);
header.writeUInt32LE(262144, 16);
header.writeUInt32LE(1, 20);
fs.writeSync(fd, header);

let tsUs = 1_700_000_000_000_000;
let packets = 0;
let payloadBytes = 0;
function frame(flow, fromClient, seq, ack, flags, offset, len) {
  const size = 14 + 20 + 20 + len;
  if (used + 16 + size > CHUNK) flush();
  const b = buf;
  let o = used;
  tsUs += 1;
  b.writeUInt32LE(Math.floor(tsUs / 1e6), o);
  b.writeUInt32LE(tsUs % 1e6, o + 4);
  b.writeUInt32LE(size, o + 8);
  b.writeUInt32LE(size, o + 12);
  o += 16;
  b.fill(0, o, o + 54);
  b[o] = 2; b[o + 6] = 2; b[o + 11] = 1; // MACs
  b.writeUInt16BE(0x0800, o + 12);
  const ip = o + 14;
  b[ip] = 0x45;
  b.writeUInt16BE(20 + 20 + len, ip + 2);
  b[ip + 8] = 64;
  b[ip + 9] = 6;
  const client = [10, 1 + (flow >> 16), (flow >> 8) & 255, flow & 255];
  const server = [10, 200, 0, 1];
  (fromClient ? client : server).forEach((v, i) => (b[ip + 12 + i] = v));
  (fromClient ? server : client).forEach((v, i) => (b[ip + 16 + i] = v));
  const tcp = ip + 20;
  const cport = 10000 + (flow % 50000);
  b.writeUInt16BE(fromClient ? cport : 80, tcp);
  b.writeUInt16BE(fromClient ? 80 : cport, tcp + 2);
  b.writeUInt32LE(0, tcp + 4);
  b.writeUInt32BE(seq >>> 0, tcp + 4);
  b.writeUInt32BE(ack >>> 0, tcp + 8);
  b[tcp + 12] = 5 << 4;
  b[tcp + 13] = flags;
  b.writeUInt16BE(65535, tcp + 14);
  for (let done = 0; done < len; ) {
    const at = (offset + done + flow * 7919) % PATTERN.length;
    const n = Math.min(len - done, PATTERN.length - at);
    PATTERN.copy(b, tcp + 20 + done, at, at + n);
    done += n;
  }
  used = tcp + 20 + len;
  packets++;
  payloadBytes += len;
}

const SYN = 2, ACK = 16, PSH = 8, FIN = 1;
const perFlow = Math.floor(TOTAL / FLOWS);
const flows = [];
for (let f = 0; f < FLOWS; f++) {
  const isn = Math.floor(rand() * 2 ** 32);
  const sisn = Math.floor(rand() * 2 ** 32);
  frame(f, true, isn, 0, SYN, 0, 0);
  frame(f, false, sisn, isn + 1, SYN | ACK, 0, 0);
  flows.push({ id: f, isn, sisn, sent: 0, size: perFlow - (perFlow % MSS) + Math.floor(rand() * MSS), held: null, later: [] });
}
const active = flows.slice();
while (active.length) {
  const i = Math.floor(rand() * active.length);
  const fl = active[i];
  const len = Math.min(MSS, fl.size - fl.sent);
  if (len > 0) {
    const seg = { offset: fl.sent, len };
    fl.sent += len;
    if (fl.held) {
      // the held segment goes after its successor: out of order
      frame(fl.id, true, fl.isn + 1 + seg.offset, fl.sisn + 1, ACK | PSH, seg.offset, seg.len);
      frame(fl.id, true, fl.isn + 1 + fl.held.offset, fl.sisn + 1, ACK | PSH, fl.held.offset, fl.held.len);
      fl.held = null;
    } else if (rand() < REORDER && fl.sent < fl.size) {
      fl.held = seg;
    } else {
      frame(fl.id, true, fl.isn + 1 + seg.offset, fl.sisn + 1, ACK | PSH, seg.offset, seg.len);
      if (rand() < RETRANSMIT) fl.later.push(seg);
    }
    if (fl.later.length && rand() < 0.5) {
      const r = fl.later.shift();
      frame(fl.id, true, fl.isn + 1 + r.offset, fl.sisn + 1, ACK | PSH, r.offset, r.len);
    }
    continue;
  }
  for (const r of fl.later) frame(fl.id, true, fl.isn + 1 + r.offset, fl.sisn + 1, ACK | PSH, r.offset, r.len);
  frame(fl.id, false, fl.sisn + 1, fl.isn + 1 + fl.size, ACK | PSH, 0, 200);
  frame(fl.id, true, fl.isn + 1 + fl.size, fl.sisn + 201, ACK | FIN, 0, 0);
  frame(fl.id, false, fl.sisn + 201, fl.isn + 2 + fl.size, ACK | FIN, 0, 0);
  active[i] = active[active.length - 1];
  active.pop();
}
flush();
fs.closeSync(fd);
console.error(`${out}: ${packets} packets, ${FLOWS} flows, ${(payloadBytes / 1e6).toFixed(0)} MB of payload`);
