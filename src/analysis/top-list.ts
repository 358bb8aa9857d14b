// The end-of-run top lists, in the aligned-column style of kubectl/ss/hey: slowest routes by p99,
// routes with most errors, servers with most retransmitted packets. Times carry their unit.
import type { Summary } from './aggregate';

/** 0.25 → "250µs", 12.5 → "12.50ms", 1520 → "1.52s". */
export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1) return `${Math.round(ms * 1000)}µs`;
  if (ms < 1000) return `${ms.toFixed(2)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

const percent = (r: number) => `${(r * 100).toFixed(2)}%`;

/** Columns padded to their widest cell; numbers (and times) right-aligned, text left-aligned. */
export function table(header: string[], rows: string[][], rightAligned: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(widths[i] - [...c].length);
        return rightAligned[i] ? pad + c : i === cells.length - 1 ? c : c + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

const routeName = (method: string, route: string) => (method ? `${method} ${route}` : route);

export function topLists(summary: Summary, n = 10): string[] {
  const routes = summary.servers.flatMap((s) => s.routes.map((r) => ({ server: s.server, ...r })));
  const out: string[] = [];

  const slow = routes.filter((r) => r.latency_ms.p99 !== null).sort((a, b) => b.latency_ms.p99! - a.latency_ms.p99!).slice(0, n);
  out.push(`SLOWEST ROUTES (by p99 latency)`);
  if (!slow.length) out.push('  none');
  else
    out.push(
      ...table(
        ['SERVER', 'PROTO', 'ROUTE', 'REQUESTS', 'P50', 'P90', 'P99', 'MAX'],
        slow.map((r) => [
          r.server,
          r.protocol,
          routeName(r.method, r.route),
          String(r.requests),
          formatMs(r.latency_ms.p50),
          formatMs(r.latency_ms.p90),
          formatMs(r.latency_ms.p99) + (r.latency_ms.exact ? '' : '~'),
          formatMs(r.latency_ms.max),
        ]),
        [false, false, false, true, true, true, true, true],
      ),
    );

  const failing = routes.filter((r) => r.errors > 0).sort((a, b) => b.errors - a.errors || b.error_ratio - a.error_ratio).slice(0, n);
  out.push('', 'MOST ERRORS (HTTP 5xx, gRPC non-OK, DNS SERVFAIL)');
  if (!failing.length) out.push('  none');
  else
    out.push(
      ...table(
        ['SERVER', 'PROTO', 'ROUTE', 'REQUESTS', 'ERRORS', 'ERROR%', 'CODES'],
        failing.map((r) => [
          r.server,
          r.protocol,
          routeName(r.method, r.route),
          String(r.requests),
          String(r.errors),
          percent(r.error_ratio),
          Object.entries(r.codes).map(([c, k]) => `${c}:${k}`).join(' '),
        ]),
        [false, false, false, true, true, true, false],
      ),
    );

  const retrans = summary.servers.filter((s) => s.retransmitted_packets > 0).sort((a, b) => b.retransmitted_packets - a.retransmitted_packets).slice(0, n);
  out.push('', 'MOST RETRANSMISSIONS');
  if (!retrans.length) out.push('  none');
  else
    out.push(
      ...table(
        ['SERVER', 'CONNS', 'REJECTED', 'PACKETS', 'RETRANS', 'RETRANS%', 'RTT P50', 'RTT P99'],
        retrans.map((s) => [
          s.server,
          String(s.connections),
          String(s.rejected),
          String(s.packets),
          String(s.retransmitted_packets),
          percent(s.retransmission_ratio),
          formatMs(s.handshake_rtt_ms.p50),
          formatMs(s.handshake_rtt_ms.p99),
        ]),
        [false, true, true, true, true, true, true, true],
      ),
    );
  return out;
}
