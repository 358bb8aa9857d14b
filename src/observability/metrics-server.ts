// Prometheus metrics over HTTP (prom-client): GET /metrics, plus /healthz (the process answers)
// and /readyz (the component says it is ready). One small server per process; the registry is
// the caller's, so tests and several components do not share global state. A client that sends
// its request slowly is cut off (headers within 10 s, the whole request within 15 s), and close()
// ends every connection within a second, so a stuck scraper never holds the process's exit.
import http from 'node:http';
import { Registry } from 'prom-client';
import { UsageError } from '../errors';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** How long close() lets requests in progress finish before closing their connections. */
const CLOSE_GRACE_MS = 1000;

/** `problem` (optional): why the process is unhealthy, or undefined; /healthz then answers 503 with it. */
export async function serveMetrics(registry: Registry, host: string, port: number, ready: () => boolean, problem?: () => string | undefined): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    // Read-only endpoints: what scrapers and probes send is GET (or HEAD, which node answers without the body).
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    if (url === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else if (url === '/healthz') {
      const p = problem?.();
      res.writeHead(p ? 503 : 200);
      res.end(p ? `${p}\n` : 'ok\n');
    } else if (url === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503);
      res.end(ok ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new UsageError(`metrics listen ${host}:${port}: ${err.message}`)));
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
