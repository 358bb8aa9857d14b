// The service shadow tests replay: one Node http server program in two versions. v2 (the
// candidate) differs from v1 (production, and the primary) in known ways: $.price on
// /api/users/{id}, the cache-control header there, status 404 for user 7, and /api/slow takes
// 150 ms longer. Both add noise: a random $.request_id and x-request-id, and Date. Each server
// counts what it received (per method, marker header, per connection) so tests can check that
// production saw exactly the clients' requests and the candidate no POST.
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The server-side connection it came on (the client's port). */
  conn: number;
  body: string;
}

export interface AppServer {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

export type AppBehaviour = 'v1' | 'v2' | { slowMs: number } | 'reset';

function handle(version: 'v1' | 'v2', req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  const noise = crypto.randomBytes(6).toString('hex');
  res.setHeader('x-request-id', noise);
  const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(value));
  };
  const url = new URL(req.url ?? '/', 'http://x');
  const user = /^\/api\/users\/(\d+)$/.exec(url.pathname);
  if (user) {
    const id = Number(user[1]);
    if (version === 'v2' && id === 7) return json(404, { error: 'not found', request_id: noise });
    const price = version === 'v1' ? id * 10 : id * 10 + 1;
    return json(200, { id, name: `user${id}`, price, tags: ['a', 'b'], request_id: noise }, { 'cache-control': version === 'v1' ? 'max-age=60' : 'no-store' });
  }
  if (url.pathname === '/api/slow') {
    const reply = () => json(200, { ok: true, request_id: noise });
    return void (version === 'v2' ? setTimeout(reply, 150) : reply());
  }
  if (url.pathname === '/api/orders' && req.method === 'POST') return json(201, { created: true, bytes: body.length, request_id: noise });
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return void res.end(req.method === 'HEAD' ? undefined : 'ok\n');
  }
  json(404, { error: 'no route', request_id: noise });
}

/** Starts the app on host:port (port 0: any); `slowMs`: answers after that long; 'reset': resets every connection. */
export async function startApp(behaviour: AppBehaviour, host = '127.0.0.1', port = 0): Promise<AppServer> {
  const received: Received[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, conn: req.socket.remotePort ?? 0, body });
      if (behaviour === 'reset') return void req.socket.resetAndDestroy();
      if (typeof behaviour === 'object') return void setTimeout(() => handle('v1', req, res, body), behaviour.slowMs);
      handle(behaviour, req, res, body);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
