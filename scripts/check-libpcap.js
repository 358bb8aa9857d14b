#!/usr/bin/env node
// Runs before node-gyp on `npm install`: a missing libpcap header otherwise ends in pages of
// compiler output. Say in one line what to install.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

function hasHeader() {
  try {
    execFileSync(process.env.CXX || 'c++', ['-E', '-x', 'c++', '-'], {
      input: '#include <pcap/pcap.h>\n',
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    return true;
  } catch (err) {
    // No compiler to ask (node-gyp will say so itself): look in the usual places.
    if (err.code === 'ENOENT') return ['/usr/include/pcap/pcap.h', '/usr/local/include/pcap/pcap.h'].some((p) => fs.existsSync(p));
    return false;
  }
}

if (!hasHeader()) {
  console.error(
    'podspan: libpcap headers (pcap/pcap.h) not found: install libpcap-dev ' +
      '(Debian/Ubuntu: apt-get install libpcap-dev; Fedora/RHEL: dnf install libpcap-devel; Alpine: apk add libpcap-dev)',
  );
  process.exit(1);
}
