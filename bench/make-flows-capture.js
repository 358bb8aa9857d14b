#!/usr/bin/env node
// Writes a synthetic capture for the stream-writing benchmark: FLOWS TCP connections open at
// once (handshake, then 1448-byte segments interleaved at random across flows, a short reply,
// FIN both ways), REORDER% of data segments swapped with the flow's next one and RETRANSMIT%
// sent again a little later. Payload bytes are a function of (flow, offset), so outputs can be
// compared. Ethernet/IPv4, microsecond pcap, deterministic (seeded).
//   node bench/make-flows-capture.js OUT.pcap [--flows 8000] [--mbytes 1100] [--reorder 5] [--retransmit 2]
'use strict';
const { TcpPcapWriter } = require('../scripts/tcp-pcap-writer');

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

const w = new TcpPcapWriter(out);
let tsUs = 1_700_000_000_000_000;
let packets = 0;
let payloadBytes = 0;
const SERVER = ((10 << 24) | (200 << 16) | 1) >>> 0;
function frame(flow, fromClient, seq, ack, flags, offset, len) {
  tsUs += 1;
  const client = ((10 << 24) | ((1 + (flow >> 16)) << 16) | (flow & 0xffff)) >>> 0;
  const cport = 10000 + (flow % 50000);
  const at = fromClient ? w.frame(tsUs, client, SERVER, cport, 80, seq, ack, flags, len) : w.frame(tsUs, SERVER, client, 80, cport, seq, ack, flags, len);
  for (let done = 0; done < len; ) {
    const from = (offset + done + flow * 7919) % PATTERN.length;
    const n = Math.min(len - done, PATTERN.length - from);
    PATTERN.copy(w.buf, at + done, from, from + n);
    done += n;
  }
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
w.close();
console.error(`${out}: ${packets} packets, ${FLOWS} flows, ${(payloadBytes / 1e6).toFixed(0)} MB of payload`);
