// `podspan shadow` flags: the capture source it shares with `podspan analyze` (a file or
// interfaces, filter, count, duration), the candidate (and primary) to replay to, what is
// replayed (protocol, methods, share of connections), how fast (rate, speed, in-flight cap,
// bounded queue, timeout), and what the comparison ignores. Validated here once; every message
// names its flag.
import { z } from 'zod';
import { UsageError } from '../errors';
import { parseIgnoreRules, type IgnoreRule } from '../shadow/ignore-rules';
import { parseCaptureFlags, type CaptureRun, type RawCaptureFlags } from './capture-options';
import { decimalNumber, flagValue, intFlag } from './number-flags';
import { checkOutFolder } from './out-folder';
import { LOWEST_NICE } from '../runtime/thread-priority';

export interface RawShadowFlags extends Pick<RawCaptureFlags, 'interface' | 'read' | 'fileList' | 'filter' | 'count' | 'snaplen' | 'bufferSize' | 'duration' | 'expression'> {
  serverPort?: string[];
  target?: string;
  primary?: string;
  protocol?: string;
  methods?: string;
  percent?: string;
  rate?: string;
  speed?: string;
  ignore?: string[];
  report?: string;
  markerHeader?: string;
  host?: string;
  timeout?: string;
  maxInFlight?: string;
  queue?: string;
  maxRoutes?: string;
  insecure?: boolean;
  nice?: string;
}

/** Where replayed requests go: http(s) for --protocol http, tcp://HOST:PORT for raw. */
export interface ShadowTarget {
  /** As given, for messages. */
  url: string;
  /** http/https: the origin undici and node:http2 connect to (scheme://host:port). */
  origin: string;
  host: string;
  port: number;
  tls: boolean;
}

export interface ShadowLimits {
  /** Requests per second (token bucket); undefined: no limit. */
  ratePerSecond?: number;
  /** From a file: 1 = original pacing, 2 = twice as fast, 0 = as fast as possible. */
  speed: number;
  maxInFlight: number;
  /** Exchanges waiting to be sent, all connections together; beyond: dropped "queue_full". */
  queueExchanges: number;
  /** Bytes of request bodies waiting, all connections together (the memory bound). */
  queueBytes: number;
  timeoutMs: number;
}

/** What to replay where and how, whatever the capture (the CLI's flags, or an agent session's `shadow` target). */
export interface ShadowSettings {
  protocol: 'http' | 'raw';
  serverPorts: number[];
  methods: string[];
  percent: number;
  target: ShadowTarget;
  primary?: ShadowTarget;
  limits: ShadowLimits;
  /** --ignore rules (header:NAME, !header:NAME, body:$.PATH, value:REGEX), on top of the default list. */
  ignore: IgnoreRule[];
  reportDir?: string;
  /** Added to every replayed HTTP request, e.g. ['x-podspan-shadow', '1']; undefined with --marker-header none. */
  marker?: [string, string];
  /** --host: the Host (HTTP/1) / :authority (HTTP/2) every replayed request carries. */
  hostRewrite?: string;
  maxRoutes: number;
  /** --insecure: accept any certificate from an https target (a test candidate's self-signed one). */
  insecure: boolean;
  /** HTTP/1 to http:// targets (PODSPAN_SHADOW_HTTP1); https always goes through undici. */
  http1Transport: Http1TransportKind;
}

/** How HTTP/1 reaches an http:// target: the addon's transport thread, or undici (kept to compare). */
export type Http1TransportKind = 'native' | 'undici';

export type ShadowRun = CaptureRun &
  ShadowSettings & {
    /**
     * --nice: the replay's CPU priority (the JavaScript thread that sends, reads and compares; the
     * capture threads keep the process's). Live 19 unless set, so production's own processes come
     * first and the replay takes what they leave; from a file 0 (nothing to protect).
     */
    replayNice: number;
  };

/** The settings' flags (everything but the capture's). */
export type RawShadowSettings = Omit<RawShadowFlags, 'interface' | 'read' | 'fileList' | 'filter' | 'count' | 'snaplen' | 'bufferSize' | 'duration' | 'expression' | 'nice'>;

export const DEFAULT_METHODS = ['GET', 'HEAD', 'OPTIONS'];
export const DEFAULT_MARKER = 'x-podspan-shadow: 1';
const DEFAULT_QUEUE = 10_000;
const DEFAULT_QUEUE_BYTES = 256 << 20;

const schema = z.object({
  serverPort: z.array(z.string()).optional(),
  target: z.string().optional(),
  primary: z.string().optional(),
  protocol: z.enum(['http', 'raw'], { errorMap: () => ({ message: '--protocol takes http or raw' }) }).optional(),
  methods: z.string().optional(),
  percent: decimalNumber('--percent', 0, 100).optional(),
  rate: decimalNumber('--rate', 0.001, 10_000_000).optional(),
  speed: decimalNumber('--speed', 0, 1000).optional(),
  ignore: z.array(z.string()).optional(),
  report: z.string().min(1, { message: '--report needs a folder name' }).optional(),
  markerHeader: z.string().optional(),
  host: z.string().optional(),
  timeout: decimalNumber('--timeout', 0.001, 3600).optional(),
  maxInFlight: intFlag('--max-in-flight', 1, 100_000),
  queue: intFlag('--queue', 1, 10_000_000),
  maxRoutes: intFlag('--max-routes', 1, 100_000),
  insecure: z.boolean().optional(),
});

/** --target / --primary: http(s)://HOST[:PORT] (HTTP) or tcp://HOST:PORT (raw); nothing after the port. */
export function parseTarget(flag: string, value: string | undefined, protocol: 'http' | 'raw'): ShadowTarget {
  if (!value) throw new UsageError(`${flag} URL is required: where replayed requests go (${protocol === 'raw' ? 'tcp://HOST:PORT' : 'http://HOST:PORT or https://HOST:PORT'})`);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`${flag} ${value}: not a URL (${protocol === 'raw' ? 'tcp://HOST:PORT' : 'http://HOST:PORT'})`);
  }
  const schemes = protocol === 'raw' ? ['tcp:'] : ['http:', 'https:'];
  if (!schemes.includes(u.protocol)) {
    throw new UsageError(`${flag} ${value}: --protocol ${protocol} takes ${schemes.map((s) => s + '//').join(' or ')} URLs`);
  }
  if (!u.hostname) throw new UsageError(`${flag} ${value}: no host`);
  if ((u.pathname && u.pathname !== '/') || u.search || u.hash || u.username) {
    throw new UsageError(`${flag} ${value}: give only scheme, host and port (requests keep their own paths)`);
  }
  const tls = u.protocol === 'https:';
  const port = u.port ? Number(u.port) : protocol === 'raw' ? 0 : tls ? 443 : 80;
  if (!port) throw new UsageError(`${flag} ${value}: tcp:// needs a port`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url: value, origin: `${u.protocol}//${u.host}`, host, port, tls };
}

function parseMethods(list: string | undefined): string[] {
  if (list === undefined) return DEFAULT_METHODS;
  const methods = list.split(',').map((m) => m.trim().toUpperCase()).filter(Boolean);
  if (!methods.length) throw new UsageError('--methods takes a comma-separated list, e.g. GET,HEAD,OPTIONS,POST');
  for (const m of methods) if (!/^[A-Z][A-Z-]*$/.test(m)) throw new UsageError(`--methods: ${m} is not an HTTP method`);
  return [...new Set(methods)];
}

function parseMarker(value: string | undefined): [string, string] | undefined {
  const v = value ?? DEFAULT_MARKER;
  if (v === 'none') return undefined;
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)$/.exec(v);
  if (!m) throw new UsageError(`--marker-header ${v}: takes NAME: VALUE (e.g. "${DEFAULT_MARKER}"), or none`);
  return [m[1].toLowerCase(), m[2].trim()];
}

export function parseShadowFlags(raw: RawShadowFlags): ShadowRun {
  const { serverPort, target, primary, protocol, methods, percent, rate, speed, ignore, report, markerHeader, host, timeout, maxInFlight, queue, maxRoutes, insecure, nice, ...capture } = raw;
  if (speed !== undefined && !capture.read && !capture.fileList) throw new UsageError('--speed paces replay from a file and needs -r FILE (or -V LIST)');
  const settings = parseShadowSettings({ serverPort, target, primary, protocol, methods, percent, rate, speed, ignore, report, markerHeader, host, timeout, maxInFlight, queue, maxRoutes, insecure });
  const replayNice = flagValue(intFlag('--nice', 0, 19), nice);
  if (report) checkOutFolder('--report', report);
  const captureRun = parseCaptureFlags(capture);
  return { ...captureRun, ...settings, replayNice: replayNice ?? (captureRun.capture.source.kind === 'live' ? LOWEST_NICE : 0) };
}

/** The settings, validated once; every message names its flag. */
export function parseShadowSettings(raw: RawShadowSettings): ShadowSettings {
  const { serverPort, target, primary, protocol, methods, percent, rate, speed, ignore, report, markerHeader, host, timeout, maxInFlight, queue, maxRoutes, insecure } = raw;
  const parsed = schema.safeParse({ serverPort, target, primary, protocol, methods, percent, rate, speed, ignore, report, markerHeader, host, timeout, maxInFlight, queue, maxRoutes, insecure });
  if (!parsed.success) throw new UsageError(parsed.error.issues[0].message);
  const f = parsed.data;
  const proto = f.protocol ?? 'http';
  const ports = (f.serverPort ?? []).map((p) => {
    if (!/^\d+$/.test(p.trim()) || Number(p) < 1 || Number(p) > 65535) throw new UsageError(`--server-port ${p}: takes a port number between 1 and 65535`);
    return Number(p);
  });
  if (proto === 'raw' && !ports.length) throw new UsageError('--protocol raw needs --server-port PORT: the port of the servers whose connections are replayed');
  if (proto === 'raw' && f.methods !== undefined) throw new UsageError('--methods applies to --protocol http');
  const tgt = parseTarget('--target', f.target, proto);
  const prim = f.primary !== undefined ? parseTarget('--primary', f.primary, proto) : undefined;
  if (prim && prim.origin === tgt.origin) throw new UsageError(`--primary ${prim.url} is the same as --target: the primary runs the version production runs`);
  if (f.host !== undefined && !/^[A-Za-z0-9.:[\]-]+$/.test(f.host)) throw new UsageError(`--host ${f.host}: not a host name (HOST or HOST:PORT)`);
  if (f.host !== undefined && proto === 'raw') throw new UsageError('--host rewrites HTTP requests and applies to --protocol http');
  if (f.markerHeader !== undefined && proto === 'raw') throw new UsageError('--marker-header applies to --protocol http');

  const timeoutMs = Math.round((f.timeout ?? 5) * 1000);
  return {
    protocol: proto,
    serverPorts: ports,
    methods: proto === 'raw' ? [] : parseMethods(f.methods),
    percent: f.percent ?? 100,
    target: tgt,
    primary: prim,
    limits: {
      ratePerSecond: f.rate,
      speed: f.speed ?? 1,
      maxInFlight: f.maxInFlight ?? 64,
      queueExchanges: f.queue ?? DEFAULT_QUEUE,
      queueBytes: DEFAULT_QUEUE_BYTES,
      timeoutMs,
    },
    ignore: parseIgnoreRules(f.ignore ?? []),
    reportDir: f.report,
    marker: proto === 'raw' ? undefined : parseMarker(f.markerHeader),
    hostRewrite: f.host,
    maxRoutes: f.maxRoutes ?? 100,
    insecure: f.insecure === true,
    http1Transport: http1TransportFromEnv(),
  };
}

/**
 * PODSPAN_SHADOW_HTTP1: how HTTP/1 reaches an http:// target, `native` (default: the addon's
 * transport thread) or `undici` (kept to compare the two, e.g. in bench/shadow-vs-goreplay.sh).
 */
export function http1TransportFromEnv(env: NodeJS.ProcessEnv = process.env): Http1TransportKind {
  const v = env.PODSPAN_SHADOW_HTTP1;
  if (v === undefined || v === '' || v === 'native') return 'native';
  if (v === 'undici') return 'undici';
  throw new UsageError(`PODSPAN_SHADOW_HTTP1=${v}: expected native or undici`);
}
