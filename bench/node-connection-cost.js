// What one new HTTP connection costs Node itself: N GETs to URL, C at a time, each on a connection
// of its own, three ways: an undici Client per request (as podspan shadow's HTTP/1 lanes do for a
// captured connection), one undici Client per slot reconnecting for each request, and Node's own
// http.request with agent: false. Prints CPU (user+sys of this process) per request for each.
//   node bench/node-connection-cost.js URL [N=10000] [C=20]
// URL: a server that closes after each answer or not (bench/http-count-server, built by
// scripts/bench-tools.sh http-server, is what BENCHMARKS.md used), on loopback or in a namespace.
'use strict';
const http = require('node:http');
const path = require('node:path');
const { Client } = require(path.join(__dirname, '..', 'node_modules', 'undici'));

const [url, n = '10000', c = '20'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node bench/node-connection-cost.js URL [N] [C]');
  process.exit(2);
}
const N = Number(n), C = Number(c), origin = new URL(url).origin, target = new URL(url).pathname;

function get(client, reset) {
  return new Promise((resolve, reject) => {
    client.dispatch({ method: 'GET', path: target, headers: ['connection', 'close'], reset }, {
      onConnect() {}, onHeaders() { return true; }, onData() { return true; }, onComplete: resolve, onError: reject,
    });
  });
}
async function slots(work) {
  let i = 0;
  await Promise.all(Array.from({ length: C }, () => work(() => i++ < N)));
}
const ways = {
  'undici Client per request': () => slots(async (more) => {
    while (more()) {
      const client = new Client(origin, { pipelining: 1 });
      client.on('connectionError', () => {});
      await get(client, false);
      await client.close();
    }
  }),
  'undici Client per slot, reconnecting': () => slots(async (more) => {
    const client = new Client(origin, { pipelining: 1 });
    client.on('connectionError', () => {});
    while (more()) await get(client, true);
    await client.close();
  }),
  'http.request, agent: false': () => slots(async (more) => {
    while (more()) {
      await new Promise((resolve, reject) => {
        const req = http.request(url, { agent: false }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        req.end();
      });
    }
  }),
};
(async () => {
  for (const [name, run] of Object.entries(ways)) {
    const cpu0 = process.cpuUsage(), t0 = Date.now();
    await run();
    const cpu = process.cpuUsage(cpu0);
    console.log(`${name.padEnd(38)} ${((cpu.user + cpu.system) / N).toFixed(1)} us CPU/request (user ${(cpu.user / N).toFixed(1)}, sys ${(cpu.system / N).toFixed(1)}), ${Date.now() - t0} ms`);
  }
})();
