#!/usr/bin/env node
// Copies a pcap (µs or ns, little endian) swapping PERCENT% of the data-carrying packets with
// the packet after them, so a reassembler sees that share of segments out of order.
//   node bench/reorder.js IN.pcap OUT.pcap PERCENT
'use strict';
const fs = require('node:fs');
const [input, output, percentText] = process.argv.slice(2);
const every = Math.round(100 / Number(percentText || 10));
const buf = fs.readFileSync(input);
const records = [];
for (let off = 24; off + 16 <= buf.length; ) {
  const caplen = buf.readUInt32LE(off + 8);
  records.push(buf.subarray(off, off + 16 + caplen));
  off += 16 + caplen;
}
let data = 0;
for (let i = 0; i + 1 < records.length; i++) {
  if (records[i].length < 16 + 14 + 20 + 20 + 1 + 12) continue;  // pure ACKs stay put
  if (++data % every === 0) {
    // swap the record contents but keep the timestamps in order
    const a = Buffer.from(records[i]), b = Buffer.from(records[i + 1]);
    b.copy(a.subarray(0, 8), 0, 0, 8);
    records[i].copy(b, 0, 0, 8);
    const tsA = records[i].subarray(0, 8), tsB = records[i + 1].subarray(0, 8);
    const newA = Buffer.concat([tsA, records[i + 1].subarray(8)]);
    const newB = Buffer.concat([tsB, records[i].subarray(8)]);
    records[i] = newA;
    records[i + 1] = newB;
    i++;
  }
}
fs.writeFileSync(output, Buffer.concat([buf.subarray(0, 24), ...records]));
console.error(`${records.length} packets, ${data} data packets seen, every ${every}th swapped with its successor`);
