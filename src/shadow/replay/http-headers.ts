// The captured request's headers as a replayed request carries them: hop-by-hop headers go (they
// describe production's connection, and undici refuses them), the body is sent decoded with its
// own Content-Length, the marker header is added, Host is rewritten when asked.
import type { HttpRequest } from './exchange';

// Connection-specific (RFC 9110 7.6.1) or framing headers: not forwarded. Expect goes too: the
// body is sent at once (the candidate's 100 Continue is not part of what is compared).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'content-length', 'http2-settings', 'host']);

export interface HeaderRewrite {
  marker?: [string, string];
  hostRewrite?: string;
}

function isConnection(name: string): boolean {
  return name.length === 10 && name.toLowerCase() === 'connection';
}

/** The captured request asked to close its connection after the answer. */
export function asksToClose(req: HttpRequest): boolean {
  for (const [n, v] of req.headers) if (isConnection(n) && /(^|,)\s*close\s*(,|$)/i.test(v)) return true;
  return false;
}

/** HTTP/1.1 headers for undici (a flat [name, value, ...] list keeps order and repeats). */
export function http1Headers(req: HttpRequest, rw: HeaderRewrite): string[] {
  // Headers the Connection header names are hop-by-hop too (a set only when there is one: this
  // runs for every replayed request).
  let named: Set<string> | undefined;
  for (const [n, v] of req.headers) if (isConnection(n)) for (const t of v.split(',')) (named ??= new Set()).add(t.trim().toLowerCase());
  const marker = rw.marker?.[0].toLowerCase();
  const out: string[] = [];
  const host = rw.hostRewrite ?? req.authority;
  if (host) out.push('host', host);
  let hadLength = false;
  for (const [n, v] of req.headers) {
    const lower = n.toLowerCase();
    if (lower === 'content-length') hadLength = true;
    if (HOP_BY_HOP.has(lower) || lower === marker || named?.has(lower)) continue;
    out.push(n, v);
  }
  if (req.body.length > 0 || hadLength) out.push('content-length', String(req.body.length));
  if (rw.marker) out.push(rw.marker[0], rw.marker[1]);
  return out;
}

/** HTTP/2 headers for node:http2 (lower-case names, pseudo-headers first, repeats joined). */
export function http2Headers(req: HttpRequest, rw: HeaderRewrite, scheme: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {
    ':method': req.method,
    ':path': req.target,
    ':scheme': scheme,
  };
  const authority = rw.hostRewrite ?? req.authority;
  if (authority) out[':authority'] = authority;
  const skip = new Set(HOP_BY_HOP);
  skip.delete('content-length');
  skip.delete('te'); // "te: trailers" is allowed in HTTP/2 and gRPC requires it
  if (rw.marker) skip.add(rw.marker[0].toLowerCase());
  for (const [n, v] of req.headers) {
    const lower = n.toLowerCase();
    if (lower.startsWith(':') || skip.has(lower)) continue;
    if (lower === 'te' && v.trim().toLowerCase() !== 'trailers') continue;
    if (lower === 'content-length') {
      out[lower] = String(req.body.length);
      continue;
    }
    const prev = out[lower];
    out[lower] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  if (rw.marker) out[rw.marker[0].toLowerCase()] = rw.marker[1];
  return out;
}
