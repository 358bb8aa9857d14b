#!/usr/bin/env node
// Runs before node-gyp on `npm install`: a missing libpcap, nghttp2 or llhttp otherwise ends in
// pages of compiler output. Say in one line what to install.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { llhttpSourceDirs, llhttpIncludeDirs, findDir, llhttpMissing } = require('./native-sources.js');

function hasHeader(header) {
  try {
    execFileSync(process.env.CXX || 'c++', ['-E', '-x', 'c++', '-'], {
      input: `#include <${header}>\n`,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    return true;
  } catch (err) {
    // No compiler to ask (node-gyp will say so itself): look in the usual places.
    if (err.code === 'ENOENT') return ['/usr/include', '/usr/local/include'].some((d) => fs.existsSync(path.join(d, header)));
    return false;
  }
}

if (!hasHeader('pcap/pcap.h')) {
  console.error(
    'podspan: libpcap headers (pcap/pcap.h) not found: install libpcap-dev ' +
      '(Debian/Ubuntu: apt-get install libpcap-dev; Fedora/RHEL: dnf install libpcap-devel; Alpine: apk add libpcap-dev)',
  );
  process.exit(1);
}

if (!hasHeader('nghttp2/nghttp2.h')) {
  console.error(
    'podspan: nghttp2 headers (nghttp2/nghttp2.h, the HPACK decoder HTTP/2 analysis uses) not found: install libnghttp2-dev ' +
      '(Debian/Ubuntu: apt-get install libnghttp2-dev; Fedora/RHEL: dnf install libnghttp2-devel; Alpine: apk add nghttp2-dev)',
  );
  process.exit(1);
}

if (!findDir(llhttpSourceDirs, 'llhttp.c') || !findDir(llhttpIncludeDirs, 'llhttp.h')) {
  console.error(`podspan: llhttp sources (llhttp.c, llhttp.h: the HTTP/1 parser analysis uses) not found: ${llhttpMissing}, or set LLHTTP_DIR`);
  process.exit(1);
}
