// `--forward URL` → a typed forwarding target, validated once here; every message names the URL.
//   vxlan://HOST[:PORT]?vni=N&truncate=BYTES&mtu=BYTES&oversize=fragment|truncate&ports=N
//   geneve://HOST[:PORT]?vni=N&session=N&…the same as vxlan (session: add the podspan TLV option)
//   gre://HOST?key=N&seq=1&truncate=BYTES&mtu=BYTES&oversize=fragment|truncate (IPv4 or IPv6, raw socket)
//   erspan://HOST?session=N&version=2|3&hwid=N&truncate=BYTES&mtu=BYTES&oversize=… (ERSPAN II/III over GRE)
//   grpc://HOST:PORT?tls=1&ca=FILE&cert=FILE&key=FILE&servername=NAME&token-file=FILE&queue=BYTES&retry-max-ms=MS&streams=N&insecure=1
// A bearer token over plaintext would hand it to anyone on the path: refused unless `insecure=1`
// (or the CLI's --insecure) says the user means it.
import { z } from 'zod';
import { UsageError } from '../errors';
import { wholeNumber } from './number-flags';

export interface VxlanTarget {
  kind: 'vxlan';
  url: string;
  /** An IP literal, or a name resolved before capture starts. */
  host: string;
  port: number;
  vni: number;
  /** Cut every inner frame to this many bytes (like a cloud mirror session's packet length). */
  truncate?: number;
  /** Outer packet size the path carries (default 1500). */
  mtu: number;
  /** Frames whose outer packet would exceed the MTU: let the kernel fragment, or cut them. */
  oversize: 'fragment' | 'truncate';
  /** Outer UDP source ports to spread flows over (one socket each). */
  sourcePorts: number;
}

/** GENEVE (RFC 8926): the same sender and options as VXLAN, another header. */
export interface GeneveTarget extends Omit<VxlanTarget, 'kind'> {
  kind: 'geneve';
  /** Set: each datagram carries podspan's option (class 0xFF50) with this id and the interface index. */
  session?: number;
}

/** GRE (RFC 2890) transparent Ethernet bridging straight over IPv4 or IPv6 (a raw socket: CAP_NET_RAW). */
export interface GreTarget {
  kind: 'gre';
  url: string;
  host: string;
  /** Set: the K flag and this key. */
  key?: number;
  /** The S flag and a sequence number per packet, from 0. */
  sequence: boolean;
  truncate?: number;
  mtu: number;
  oversize: 'fragment' | 'truncate';
}

/** ERSPAN type II or III over GRE (with sequence numbers), as packet brokers and analysers take it. */
export interface ErspanTarget {
  kind: 'erspan';
  url: string;
  host: string;
  version: 2 | 3;
  /** The 10-bit session id. */
  session: number;
  /** Type III: the 6-bit hardware id. */
  hwid: number;
  truncate?: number;
  mtu: number;
  oversize: 'fragment' | 'truncate';
}

/** The targets the native encapsulation sender serves. */
export type EncapTarget = VxlanTarget | GeneveTarget | GreTarget | ErspanTarget;

export interface GrpcTarget {
  kind: 'grpc';
  url: string;
  host: string;
  port: number;
  /** TLS: the CA that signed the collector's certificate (PEM file); with cert and key: mutual TLS. */
  tls?: { ca?: string; cert?: string; key?: string; serverName?: string };
  /** File holding a bearer token sent with the stream (never the token itself in the URL). */
  tokenFile?: string;
  /** The user allowed a token without TLS (`insecure=1` / --insecure): sent in the clear, warned once. */
  insecure: boolean;
  /** Bytes of frames waiting for this collector before new batches are dropped (counted). */
  queueBytes: number;
  /** Longest wait between reconnection attempts (jittered exponential backoff from 200 ms). */
  retryMaxMs: number;
  /** Mirror.Streams (each its own connection) the batches are spread over; batches of two streams may arrive out of order. */
  streams: number;
}

export type ForwardTarget = EncapTarget | GrpcTarget;

export const isEncap = (t: ForwardTarget): t is EncapTarget => t.kind !== 'grpc';

const defaultPorts = { vxlan: 4789, geneve: 6081 };

// The URL queries' schemas, made at the first --forward parsed rather than when the module loads:
// every command imports this module, few parse a forward target (BENCHMARKS.md, issue 17).
function makeQueries() {
  const cutFields = {
    truncate: wholeNumber('truncate', 14, 65000).optional(),
    mtu: wholeNumber('mtu', 576, 65535).optional(),
    oversize: z.enum(['fragment', 'truncate'], { errorMap: () => ({ message: 'oversize must be fragment or truncate' }) }).optional(),
  };
  const vxlanFields = { ...cutFields, vni: wholeNumber('vni', 0, 0xffffff).optional(), ports: wholeNumber('ports', 1, 1024).optional() };
  const vxlanQuery = z.object(vxlanFields).strict();
  const geneveQuery = z.object({ ...vxlanFields, session: wholeNumber('session', 0, 0xffffffff).optional() }).strict();
  const greQuery = z
    .object({ ...cutFields, key: wholeNumber('key', 0, 0xffffffff).optional(), seq: z.enum(['0', '1'], { errorMap: () => ({ message: 'seq takes 0 or 1' }) }).optional() })
    .strict();

  const erspanQuery = z
    .object({
      ...cutFields,
      session: wholeNumber('session', 0, 1023).optional(),
      version: z.enum(['2', '3'], { errorMap: () => ({ message: 'version takes 2 (type II) or 3 (type III)' }) }).optional(),
      hwid: wholeNumber('hwid', 0, 63).optional(),
    })
    .strict();


  const grpcQuery = z
    .object({
      tls: z.enum(['0', '1'], { errorMap: () => ({ message: 'tls takes 0 or 1' }) }).optional(),
      ca: z.string().min(1).optional(),
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      servername: z.string().min(1).optional(),
      'token-file': z.string().min(1).optional(),
      queue: wholeNumber('queue', 1 << 20, 4 * 2 ** 30).optional(),
      'retry-max-ms': wholeNumber('retry-max-ms', 200, 600_000).optional(),
      streams: wholeNumber('streams', 1, 8).optional(),
      insecure: z.enum(['0', '1'], { errorMap: () => ({ message: 'insecure takes 0 or 1' }) }).optional(),
    })
    .strict()
    .refine((q) => !q.cert === !q.key, { message: 'cert and key go together (mutual TLS)' });
  return { vxlan: vxlanQuery, geneve: geneveQuery, gre: greQuery, erspan: erspanQuery, grpc: grpcQuery };
}
let madeQueries: ReturnType<typeof makeQueries> | undefined;
const queries = () => (madeQueries ??= makeQueries());

function queryError(where: string, error: z.ZodError): UsageError {
  const issue = error.issues[0];
  const message = issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}` : issue.message;
  return new UsageError(`${where}: ${message}`);
}

export interface ForwardParseOptions {
  /** --insecure: allow a bearer token over plaintext gRPC (as `insecure=1` in the URL does). */
  insecure?: boolean;
}

function parseGrpc(url: URL, text: string, where: string, host: string, options: ForwardParseOptions): GrpcTarget {
  if (!url.port) throw new UsageError(`${where}: give the collector's port (grpc://HOST:PORT)`);
  const parsed = queries().grpc.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) throw queryError(where, parsed.error);
  const q = parsed.data;
  const tls = q.tls === '1' || q.ca || q.cert ? { ca: q.ca, cert: q.cert, key: q.key, serverName: q.servername } : undefined;
  const insecure = q.insecure === '1' || options.insecure === true;
  if (q['token-file'] && !tls && !insecure) {
    throw new UsageError(`${where}: token-file without TLS would send the token in the clear; add tls=1&ca=FILE, or insecure=1 (--insecure) to allow it`);
  }
  return { kind: 'grpc', url: text, host, port: Number(url.port), tls, tokenFile: q['token-file'], insecure, queueBytes: q.queue ?? 64 << 20, retryMaxMs: q['retry-max-ms'] ?? 10_000, streams: q.streams ?? 1 };
}

function parseGre(url: URL, text: string, where: string, host: string): GreTarget {
  if (url.port) throw new UsageError(`${where}: GRE has no port (gre://HOST?key=N)`);
  const parsed = queries().gre.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) throw queryError(where, parsed.error);
  const q = parsed.data;
  return { kind: 'gre', url: text, host, key: q.key, sequence: q.seq === '1', truncate: q.truncate, mtu: q.mtu ?? 1500, oversize: q.oversize ?? 'fragment' };
}

function parseErspan(url: URL, text: string, where: string, host: string): ErspanTarget {
  if (url.port) throw new UsageError(`${where}: ERSPAN goes over GRE, which has no port (erspan://HOST?session=N)`);
  const parsed = queries().erspan.safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) throw queryError(where, parsed.error);
  const q = parsed.data;
  return { kind: 'erspan', url: text, host, version: q.version === '3' ? 3 : 2, session: q.session ?? 0, hwid: q.hwid ?? 0, truncate: q.truncate, mtu: q.mtu ?? 1500, oversize: q.oversize ?? 'fragment' };
}

/**
 * A collector's address given to a flag of its own (`--collector`): grpc:// only, since the
 * other forward schemes cannot be tapped or asked; its errors name that flag, not --forward.
 */
export function parseGrpcUrl(flag: string, url: string): GrpcTarget {
  if (!url.startsWith('grpc://')) throw new UsageError(`${flag} ${url}: expected grpc://HOST:PORT (with ?tls=1&ca=FILE&token-file=FILE as --forward takes them)`);
  try {
    return parseForwardTarget(url) as GrpcTarget;
  } catch (err) {
    throw err instanceof UsageError ? new UsageError(err.message.replace(/^--forward /, `${flag} `)) : err;
  }
}

export function parseForwardTarget(text: string, options: ForwardParseOptions = {}): ForwardTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--forward ${text}: not a URL (expected vxlan://HOST:4789?vni=N, geneve://HOST:6081?vni=N, gre://HOST?key=N, erspan://HOST?session=N or grpc://HOST:PORT)`);
  }
  const where = `--forward ${text}`;
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'vxlan' && scheme !== 'geneve' && scheme !== 'gre' && scheme !== 'erspan' && scheme !== 'grpc') {
    throw new UsageError(`${where}: unknown scheme ${scheme} (vxlan, geneve, gre, erspan or grpc)`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new UsageError(`${where}: no host`);
  if (scheme === 'grpc') return parseGrpc(url, text, where, host, options);
  if (scheme === 'gre') return parseGre(url, text, where, host);
  if (scheme === 'erspan') return parseErspan(url, text, where, host);
  // geneve's query is vxlan's and a session: q is typed as the wider one.
  const parsed = (scheme === 'geneve' ? queries().geneve : queries().vxlan).safeParse(Object.fromEntries(url.searchParams));
  if (!parsed.success) throw queryError(where, parsed.error);
  const q: { session?: number } & typeof parsed.data = parsed.data;
  const common = {
    url: text,
    host,
    port: url.port ? Number(url.port) : defaultPorts[scheme],
    vni: q.vni ?? 0,
    truncate: q.truncate,
    mtu: q.mtu ?? 1500,
    oversize: q.oversize ?? 'fragment',
    sourcePorts: q.ports ?? 16,
  };
  return scheme === 'geneve' ? { kind: 'geneve', ...common, session: q.session } : { kind: 'vxlan', ...common };
}

