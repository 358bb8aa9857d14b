// HTTP/2 (h2c with prior knowledge) and gRPC replay: production and the candidate are a real
// Node http2 server and a real @grpc/grpc-js server (unary and server-streaming), production's
// answers are real ones; the candidate differs in known ways ($.price of item 2; NOT_FOUND for
// item 3 over gRPC; one more streamed message for item 4).
import { afterEach, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import net from 'node:net';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { parseShadowFlags } from '../../src/config/shadow-options';
import { runShadow } from '../../src/shadow/run';
import { askH2, batchSource, MetaBuilder } from '../helpers/shadow-meta';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

interface Seen {
  path: string;
  marker: string | undefined;
  session: number;
}

async function h2App(version: 'v1' | 'v2', seen: Seen[] = []): Promise<number> {
  const sessions = new Map<http2.Http2Session, number>();
  const server = http2.createServer();
  server.on('session', (s) => sessions.set(s, sessions.size));
  server.on('stream', (stream, headers) => {
    seen.push({ path: String(headers[':path']), marker: headers['x-podspan-shadow'] as string | undefined, session: sessions.get(stream.session!)! });
    const id = Number(/\/items\/(\d+)/.exec(String(headers[':path']))?.[1] ?? 0);
    const price = version === 'v2' && id === 2 ? 99 : id * 10;
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-request-id': String(Math.random()) });
    stream.end(JSON.stringify({ id, price }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (server.close(() => r()), [...sessions.keys()].forEach((s) => s.destroy()))));
  return (server.address() as net.AddressInfo).port;
}

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const service: grpc.ServiceDefinition = {
  Get: { path: '/shop.Items/Get', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  List: { path: '/shop.Items/List', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

async function grpcApp(version: 'v1' | 'v2'): Promise<number> {
  const server = new grpc.Server();
  server.addService(service, {
    Get: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const id = call.request.toString();
      if (version === 'v2' && id === '3') return cb({ code: grpc.status.NOT_FOUND, details: 'no item 3' });
      cb(null, Buffer.from(`item ${id}`));
    },
    List: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString()) + (version === 'v2' && call.request.toString() === '4' ? 1 : 0);
      for (let i = 0; i < n; i++) call.write(Buffer.from(`part ${i}`));
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  closers.push(() => new Promise((r) => server.tryShutdown(() => r())));
  return port;
}

/** A gRPC message as it travels: 1 byte compressed flag, 4 bytes length, the message. */
const frame = (m: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, Buffer.byteLength(m)]), Buffer.from(m)]);
const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });

describe('podspan shadow: HTTP/2 and gRPC to real servers', () => {
  it('h2c: one session per captured connection, the planted JSON difference only', async () => {
    const production = await h2App('v1');
    const seen: Seen[] = [];
    const candidate = await h2App('v2', seen);
    const meta = new MetaBuilder();
    const batches = [];
    for (const c of ['1', '2']) {
      const session = http2.connect(`http://127.0.0.1:${production}`);
      meta.open(c);
      for (let id = 1; id <= 3; id++) {
        const path = `/items/${id}`;
        meta.h2(c, id * 2 - 1, { method: 'GET', path, route: '/items/{id}', headers: [['accept', 'application/json']] }, await askH2(session, { ':path': path }));
      }
      meta.close(c);
      session.close();
      batches.push(meta.take());
    }
    const r = await runShadow(parseShadowFlags({ read: 'x.pcap', target: `http://127.0.0.1:${candidate}`, speed: '0' } as never), batchSource(batches, false), quiet());
    expect(r.summary).toMatchObject({ requests: 6, compared: 6, matched: 4, differed: 2, errors: 0 });
    expect(r.summary.routes.map((x) => x.differences)).toEqual([{ 'body:$.price': 2 }]);
    // Connections run concurrently; within each, the captured order.
    expect(seen.every((s) => s.marker === '1')).toBe(true);
    const bySession = [0, 1].map((n) => seen.filter((s) => s.session === n).map((s) => s.path));
    expect(bySession).toEqual([['/items/1', '/items/2', '/items/3'], ['/items/1', '/items/2', '/items/3']]);
  });

  it('gRPC unary and server-streaming: grpc-status and the streamed body compared', async () => {
    const production = await grpcApp('v1');
    const candidate = await grpcApp('v2');
    const meta = new MetaBuilder();
    const session = http2.connect(`http://127.0.0.1:${production}`);
    meta.open('1');
    const headers = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' };
    const calls: [string, string][] = [['Get', '1'], ['Get', '3'], ['List', '2'], ['List', '4']];
    for (const [i, [method, arg]] of calls.entries()) {
      const path = `/shop.Items/${method}`;
      const answer = await askH2(session, { ...headers, ':path': path }, frame(arg));
      meta.h2('1', i * 2 + 1, { method: 'POST', path, route: path, headers: [['content-type', 'application/grpc'], ['te', 'trailers']], body: frame(arg), grpc: true }, answer);
    }
    meta.close('1');
    session.close();
    const r = await runShadow(parseShadowFlags({ read: 'x.pcap', target: `http://127.0.0.1:${candidate}`, speed: '0', methods: 'POST' } as never), batchSource([meta.take()], false), quiet());
    expect(r.summary).toMatchObject({ requests: 4, compared: 4, matched: 2, differed: 2, errors: 0 });
    expect(Object.fromEntries(r.summary.routes.map((x) => [x.route, x.differences]))).toEqual({
      '/shop.Items/Get': { 'grpc-status': 1 },
      '/shop.Items/List': { body: 1 },
    });
  });
});
