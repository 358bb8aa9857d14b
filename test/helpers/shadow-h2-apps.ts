// The HTTP/2 and gRPC services the shadow tests replay: a node:http2 server (GET /items/N answers
// {id, price}; v2 prices item 2 at 99) and a @grpc/grpc-js server with a unary Get (v2: NOT_FOUND
// for "3") and a server-streaming List (v2: one more message for "4"). Messages are raw bytes (no
// protobuf): the comparison sees the gRPC framing and the message bytes.
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';

export type Closer = () => Promise<void>;

export interface Seen {
  path: string;
  marker: string | undefined;
  session: number;
}

export async function h2App(version: 'v1' | 'v2', closers: Closer[], seen: Seen[] = [], host = '127.0.0.1', port = 0): Promise<number> {
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
  await new Promise<void>((r) => server.listen(port, host, r));
  closers.push(() => new Promise((r) => (server.close(() => r()), [...sessions.keys()].forEach((s) => s.destroy()))));
  return (server.address() as net.AddressInfo).port;
}

const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
export const service: grpc.ServiceDefinition = {
  Get: { path: '/shop.Items/Get', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  List: { path: '/shop.Items/List', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

export async function grpcApp(version: 'v1' | 'v2', closers: Closer[], address = '127.0.0.1:0'): Promise<number> {
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
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  closers.push(() => new Promise((r) => server.tryShutdown(() => r())));
  return port;
}

