// Ethernet/IPv4/TCP frames into a microsecond pcap, written in 8 MiB chunks: the benchmarks'
// synthetic captures (bench/make-flows-capture.js, make-syn-flood-capture.js) and the warm-up
// capture of scripts/bundle-cli.js share it.
'use strict';
const fs = require('node:fs');

const CHUNK = 8 << 20;

class TcpPcapWriter {
  /** `exclusive`: fail if the file exists. */
  constructor(file, { exclusive = false } = {}) {
    this.fd = fs.openSync(file, exclusive ? 'wx' : 'w');
    this.buf = Buffer.alloc(CHUNK);
    this.used = 0;
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(262144, 16);
    header.writeUInt32LE(1, 20);
    fs.writeSync(this.fd, header);
  }

  /**
   * One frame at `usec` (µs since the epoch), addresses as 32-bit numbers, with room for `len`
   * payload bytes: returns where they go in this.buf (the caller fills them).
   */
  frame(usec, src, dst, sport, dport, seq, ack, flags, len) {
    const size = 14 + 20 + 20 + len;
    if (this.used + 16 + size > CHUNK) this.flush();
    const b = this.buf;
    let o = this.used;
    b.writeUInt32LE(Math.floor(usec / 1e6), o);
    b.writeUInt32LE(usec % 1e6, o + 4);
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
    b.writeUInt32BE(src >>> 0, ip + 12);
    b.writeUInt32BE(dst >>> 0, ip + 16);
    const tcp = ip + 20;
    b.writeUInt16BE(sport, tcp);
    b.writeUInt16BE(dport, tcp + 2);
    b.writeUInt32BE(seq >>> 0, tcp + 4);
    b.writeUInt32BE(ack >>> 0, tcp + 8);
    b[tcp + 12] = 5 << 4;
    b[tcp + 13] = flags;
    b.writeUInt16BE(65535, tcp + 14);
    this.used = tcp + 20 + len;
    return tcp + 20;
  }

  flush() {
    fs.writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }

  close() {
    this.flush();
    fs.closeSync(this.fd);
  }
}

module.exports = { TcpPcapWriter };
