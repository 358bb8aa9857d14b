// The collector's HTTP/2 receive windows. grpc-js applies `grpc-node.flow_control_window` on the
// client only (grpc-node PR #3058 is still open): a server stays at HTTP/2's 64 KiB per stream
// and per connection, so an agent sends 64 KiB and then waits a round trip for WINDOW_UPDATE
// (on loopback that capped one stream at ~1.5 Gbit/s). This widens both, on every HTTP/2 server
// grpc-js makes: the stream window in the SETTINGS it advertises, the connection window with
// setLocalWindowSize when a session opens. The windows bound what one stream or connection can
// have in flight towards the collector; the message size limit and the stream caps still bound
// what the collector holds.
import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

export interface ReceiveWindows {
  /** SETTINGS_INITIAL_WINDOW_SIZE: bytes one stream may send before the collector reads them. */
  streamBytes: number;
  /** The connection's window, shared by its streams. */
  connectionBytes: number;
}

/** The grpc-js Server internals the collector hooks (see also mirror-route.ts). */
export interface GrpcServerInternals {
  commonServerOptions?: http2.ServerOptions;
  createHttp2Server?: (credentials: unknown) => http2.Http2Server;
}

/**
 * Widens the windows of every HTTP/2 server `server` makes from now on. False when grpc-js no
 * longer has the internals this relies on (an upgrade changed them): the windows stay at 64 KiB,
 * slower but correct (test/integration/collector-windows.test.ts then fails).
 */
export function widenReceiveWindows(server: grpc.Server, w: ReceiveWindows): boolean {
  const s = server as unknown as GrpcServerInternals;
  const create = s.createHttp2Server;
  if (!s.commonServerOptions || typeof create !== 'function') return false;
  s.commonServerOptions.settings = { ...s.commonServerOptions.settings, initialWindowSize: w.streamBytes };
  s.createHttp2Server = function (this: unknown, credentials: unknown) {
    const h2 = create.call(this, credentials);
    h2.on('session', (session: http2.ServerHttp2Session) => session.setLocalWindowSize(w.connectionBytes));
    return h2;
  };
  return true;
}
