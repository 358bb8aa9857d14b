// A TCP relay in front of the S3 server that reads each request's first line: tests count what was
// sent and inject what a real server cannot be asked to do on cue (a reset connection; a request
// held, as a store that stopped answering holds it).
import net from 'node:net';

/** One request as the relay saw its first line. */
export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
}

/**
 * A TCP relay to the S3 server. `onRequest` may answer 'reset' (the connection is cut before the
 * request reaches the server) or 'hold' (nothing more is relayed from any client until release()).
 */
export interface Relay {
  port: number;
  seen: Seen[];
  onRequest?: (r: Seen) => 'reset' | 'hold' | undefined;
  /** Cuts every connection and relays again. */
  release(): void;
  close(): Promise<void>;
}

export function startRelay(targetPort: () => number): Promise<Relay> {
  const conns = new Set<net.Socket>();
  let held = false;
  const relay: Relay = {
    port: 0,
    seen: [],
    release() {
      for (const c of conns) c.destroy();
      held = false;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort(), '127.0.0.1');
    conns.add(client).add(upstream);
    const cut = () => (client.destroy(), upstream.destroy(), conns.delete(client), conns.delete(upstream));
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
    upstream.on('data', (d) => client.write(d));
    client.on('data', (chunk) => {
      if (held) return; // cut by release()
      // A request begins a chunk (its head is written before its body): the first line names it.
      const m = /^(PUT|POST|GET|HEAD|DELETE) (\S+) HTTP\/1\.1\r\n/.exec(chunk.subarray(0, 2048).toString('latin1'));
      if (m) {
        const url = new URL(m[2], 'http://x');
        const r = { method: m[1], path: url.pathname, query: url.searchParams };
        relay.seen.push(r);
        const verdict = relay.onRequest?.(r);
        if (verdict === 'reset') return cut();
        if (verdict === 'hold') return void (held = true);
      }
      upstream.write(chunk);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(relay, { port: (server.address() as net.AddressInfo).port }))));
}
