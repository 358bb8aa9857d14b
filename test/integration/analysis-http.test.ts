// HTTP records through the addon, judged by tshark: real h2c traffic (curl against Go's x/net h2c
// server: prior knowledge, Upgrade, gRPC with trailers, and an HTTP/1.1 HEAD; see
// scripts/make-h2c-fixture.sh). The C++ tests check the parsers in the core; this one checks what
// the addon loaded by Node produces, where Node's own exported llhttp and nghttp2 could
// otherwise stand in for the addon's (a different llhttp version: no request was found at all).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { readRecords } from '../../src/analysis/native-records';
import { repoRoot, run } from '../helpers/tools';

const fixture = path.join(repoRoot, 'fixtures', 'h2c-curl-go.pcap');

function tsharkExchanges(): { requests: string[]; statuses: string[] } {
  const r = run('tshark', ['-n', '-r', fixture, '-Y', 'http2.type == 1 || http', '-T', 'fields', '-E', 'separator=|',
    '-e', 'http2.headers.method', '-e', 'http2.headers.path', '-e', 'http2.headers.status',
    '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.response.code']);
  expect(r.code).toBe(0);
  const requests: string[] = [];
  const statuses: string[] = [];
  for (const line of r.stdout.trim().split('\n')) {
    const [h2m, h2p, h2s, h1m, h1u, h1s] = line.split('|');
    if (h2m) requests.push(`${h2m} ${h2p.split('?')[0]}`);
    if (h1m) requests.push(`${h1m} ${h1u.split('?')[0]}`);
    if (h2s) statuses.push(h2s);
    if (h1s && h1s !== '101') statuses.push(h1s); // the h2c Upgrade's 101 is not the answer
  }
  return { requests: requests.sort(), statuses: statuses.sort() };
}

describe('HTTP records through the addon', () => {
  it('h2c (prior knowledge, Upgrade, gRPC) and HTTP/1.1: the exchanges tshark finds, with their status', async () => {
    const { http, flows, stats } = await readRecords(fixture);
    const theirs = tsharkExchanges();
    // The Upgrade request is HTTP/1.1 in tshark's list and its answer comes on h2 stream 1: one exchange.
    const requests = http.map((h) => `${h.method} ${h.path}`).sort();
    expect(requests).toEqual(theirs.requests);
    expect(http.map((h) => String(h.status)).sort()).toEqual(theirs.statuses);
    expect(http.map((h) => [h.version, h.method, h.path, h.route, h.status, h.grpc_status])).toEqual([
      ['2', 'GET', '/items/1', '/items/{id}', 200, null],
      ['2', 'GET', '/items/2', '/items/{id}', 200, null],
      ['2', 'GET', '/b/2', '/b/{id}', 200, null],
      ['2', 'POST', '/shop.Cart/Add', '/shop.Cart/Add', 200, 5],
      ['1.1', 'HEAD', '/head/3', '/head/{id}', 200, null],
    ]);
    // every record joins its connection's flow record, which names the protocol
    const appOf = new Map(flows.map((f) => [f.uid, f.app]));
    expect(http.map((h) => appOf.get(h.uid))).toEqual(['h2', 'h2', 'h2', 'grpc', 'http']);
    // HTTP/1 requests parsed: the HEAD and the Upgrade request (answered on h2 stream 1)
    expect(stats?.appCounters).toMatchObject({ httpRequests: 2, h2Streams: 4, parseErrors: 0 });
  });
});
