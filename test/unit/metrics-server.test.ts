// The metrics server's endpoints: GET (and HEAD) on /metrics, /healthz and /readyz; anything
// else is 404, and a method other than GET or HEAD is 405 (it used to be answered as a GET).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { serveMetrics, type MetricsServer } from '../../src/observability/metrics-server';

let server: MetricsServer;
let base: string;

beforeAll(async () => {
  const registry = new Registry();
  new Counter({ name: 'podspan_test_total', help: 'a counter of the test', registers: [registry] }).inc(3);
  server = await serveMetrics(registry, '127.0.0.1', 0, () => true);
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.close());

describe('metrics server', () => {
  it('answers GET on its endpoints, 404 elsewhere', async () => {
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('podspan_test_total 3');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('ready\n');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(200);
  });

  it('refuses other methods with 405 and says which it allows', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await fetch(`${base}/metrics`, { method });
      expect([method, r.status]).toEqual([method, 405]);
      expect(r.headers.get('allow')).toBe('GET, HEAD');
    }
  });
});
