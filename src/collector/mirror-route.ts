// Serving Mirror.Stream on node:http2 beside grpc-js, on the same port, connections and TLS.
// grpc-js's Server cannot share an HTTP/2 server, and the other services (the live tap) are
// served well by it; so grpc-js keeps the listening socket, TLS (certificates, client auth,
// ALPN h2, session tickets), sessions, keepalive, SETTINGS and shutdown, and only the streams
// of one path are taken from it: its own 'stream' listener stays in place for every other path.
// This relies on the same grpc-js internal as the receive windows (createHttp2Server, present
// since grpc-js 1.10); without it the collector refuses to start rather than serve agents
// slowly (test/integration/grpc.test.ts fails then).
import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import type { GrpcServerInternals } from './receive-window';

export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/**
 * Streams for `path` on every HTTP/2 server `server` makes from now on go to `handle`, the
 * rest to grpc-js. False when grpc-js no longer has the internals this relies on.
 */
export function routeStreams(server: grpc.Server, path: string, handle: StreamHandler): boolean {
  const s = server as unknown as GrpcServerInternals;
  const create = s.createHttp2Server;
  if (typeof create !== 'function') return false;
  s.createHttp2Server = function (this: unknown, credentials: unknown) {
    const h2 = create.call(this, credentials);
    const grpcListeners = h2.listeners('stream') as ((...args: unknown[]) => void)[];
    h2.removeAllListeners('stream');
    h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
      if (headers[':path'] === path) handle(stream, headers);
      else for (const l of grpcListeners) l.call(h2, stream, headers, ...rest);
    });
    return h2;
  };
  return true;
}
