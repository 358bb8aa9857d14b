// `podspan collector` flags → validated CollectorOptions; every message names the flag.
import fs from 'node:fs';
import { z } from 'zod';
import { defaultAgentFileLimits } from '../collector/agent-files';
import type { CollectorLimits, CollectorOptions } from '../collector/collector';
import { UsageError } from '../errors';
import { STORE_IDLE_TIMEOUT_S } from '../storage/store';
import { parseSse, parseStoreUrl } from '../storage/store';
import { MAX_FILE_MB, MAX_TIMER_SECONDS } from './number-flags';
import { checkOutFolder } from './out-folder';
import { loadTlsFiles } from './tls-files';

export interface RawCollectorFlags {
  listen?: string;
  out?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  tokenFile?: string;
  fileSize?: string;
  rotateSeconds?: string;
  fileCount?: string;
  vxlanListen?: string;
  geneveListen?: string;
  greListen?: string;
  metricsListen?: string;
  /** Allow --token-file without TLS (the token crosses the network in the clear). */
  insecure?: boolean;
  maxAgents?: string;
  maxInterfaces?: string;
  maxVxlanSources?: string;
  agentIdleTimeout?: string;
  maxMessageMb?: string;
  maxStreams?: string;
  shutdownTimeout?: string;
  store?: string;
  storeSpoolMb?: string;
  keepLocal?: boolean;
  pageCache?: boolean;
  sse?: string;
  storeDrainTimeout?: string;
  storeTimeout?: string;
}

const whole = (flag: string) => z.string().regex(/^\d{1,9}$/, { message: `${flag} takes a whole number` }).optional();
const atMost = (max: number) => (v: string) => Number(v) <= max;
// 0 would mean "off" without saying so (capture refuses it too).
const above0 = (v: string) => Number(v) > 0;
// Seconds a timer waits (see MAX_TIMER_SECONDS).
const seconds = (flag: string) =>
  z.string().regex(/^\d+(\.\d+)?$/, { message: `${flag} takes seconds` }).refine(atMost(MAX_TIMER_SECONDS), { message: `${flag}: at most ${MAX_TIMER_SECONDS} seconds` }).optional();

const schema = z.object({
  listen: z.string({ required_error: '--listen HOST:PORT is required' }).regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: '--listen takes HOST:PORT' }),
  out: z.string({ required_error: '--out DIR is required' }).min(1, { message: '--out needs a folder' }),
  tlsCert: z.string().optional(),
  tlsKey: z.string().optional(),
  clientCa: z.string().optional(),
  tokenFile: z.string().optional(),
  fileSize: z.string().regex(/^\d+(\.\d+)?$/, { message: '-C takes a number of MB' }).refine(above0, { message: '-C must be greater than 0' }).refine(atMost(MAX_FILE_MB), { message: `-C: at most ${MAX_FILE_MB} MB` }).optional(),
  rotateSeconds: z.string().regex(/^\d+$/, { message: '-G takes whole seconds' }).refine(above0, { message: '-G must be at least 1' }).refine(atMost(MAX_TIMER_SECONDS), { message: `-G: at most ${MAX_TIMER_SECONDS} seconds` }).optional(),
  fileCount: z.string().regex(/^\d+$/, { message: '-W takes a whole number' }).refine(above0, { message: '-W must be at least 1' }).refine(atMost(99999), { message: '-W: at most 99999 files' }).optional(),
  metricsListen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: '--metrics-listen takes HOST:PORT' }).optional(),
  insecure: z.boolean().optional(),
  maxAgents: whole('--max-agents'),
  maxInterfaces: whole('--max-interfaces'),
  maxVxlanSources: whole('--max-vxlan-sources'),
  agentIdleTimeout: whole('--agent-idle-timeout'),
  maxMessageMb: z.string().regex(/^\d+(\.\d+)?$/, { message: '--max-message-mb takes a number of MiB' }).optional(),
  maxStreams: z.string().regex(/^[1-9]\d*$/, { message: '--max-streams takes a whole number of at least 1' }).optional(),
  shutdownTimeout: seconds('--shutdown-timeout'),
  store: z.string().optional(),
  storeSpoolMb: z.string().regex(/^\d+(\.\d+)?$/, { message: '--store-spool-mb takes a number of MB' }).refine(above0, { message: '--store-spool-mb must be greater than 0' }).optional(),
  keepLocal: z.boolean().optional(),
  pageCache: z.boolean().optional(),
  sse: z.string().optional(),
  storeDrainTimeout: seconds('--store-drain-timeout'),
  storeTimeout: z.string().regex(/^\d+(\.\d+)?$/, { message: '--store-timeout takes seconds' }).refine((v) => Number(v) >= 1, { message: '--store-timeout: at least 1 second' }).refine(atMost(MAX_TIMER_SECONDS), { message: `--store-timeout: at most ${MAX_TIMER_SECONDS} seconds` }).optional(),
  vxlanListen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: '--vxlan-listen takes HOST:PORT (port 4789 is the standard)' }).optional(),
  geneveListen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: '--geneve-listen takes HOST:PORT (port 6081 is the standard)' }).optional(),
  greListen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+)$/, { message: '--gre-listen takes an IPv4 address or [IPv6] (GRE has no port)' }).optional(),
});

function readable(flag: string, file: string | undefined): void {
  if (file === undefined) return;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new UsageError(`${flag} ${file}: cannot read the file`);
  }
  if (fs.statSync(file).isDirectory()) throw new UsageError(`${flag} ${file}: is a folder, not a file`);
}

export function parseCollectorFlags(raw: RawCollectorFlags): CollectorOptions & { metrics?: { host: string; port: number } } {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0].message);
  const f = parsed.data;
  if (!f.tlsCert !== !f.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  if (f.clientCa && !f.tlsCert) throw new UsageError('--client-ca (mutual TLS) needs --tls-cert and --tls-key');
  if (f.tokenFile && !f.tlsCert && !f.insecure) {
    throw new UsageError('--token-file without --tls-cert/--tls-key: agents would send the token in the clear; add TLS, or --insecure to allow it');
  }
  if (f.fileCount && !f.fileSize && !f.rotateSeconds) throw new UsageError('-W keeps a ring of files and needs -C or -G');
  for (const [flag, v] of [['--max-agents', f.maxAgents], ['--max-interfaces', f.maxInterfaces], ['--max-vxlan-sources', f.maxVxlanSources]] as const) {
    if (v !== undefined && Number(v) < 1) throw new UsageError(`${flag} must be at least 1`);
  }
  checkOutFolder('--out', f.out);
  const store = storeOptions(f);
  if (f.tlsCert && f.tlsKey) {
    const named = (flag: string, file: string) => ({ label: `${flag} ${file}`, file });
    loadTlsFiles({ cert: named('--tls-cert', f.tlsCert), key: named('--tls-key', f.tlsKey), ca: f.clientCa ? named('--client-ca', f.clientCa) : undefined }, (m) => new UsageError(m));
  }
  readable('--token-file', f.tokenFile);
  const { host, port } = hostPort('--listen', f.listen);
  const token = f.tokenFile ? fs.readFileSync(f.tokenFile, 'utf8').trim() : undefined;
  if (f.tokenFile && !token) throw new UsageError(`--token-file ${f.tokenFile}: the file is empty`);
  return {
    host,
    port,
    outDir: f.out,
    pageCache: f.pageCache === true,
    store,
    rotation: {
      rotateBytes: f.fileSize ? Math.round(Number(f.fileSize) * 1_000_000) : undefined,
      // With --store, files rotate at least hourly: an object's key holds the hour of its first
      // packet and export looks one hour back for the files that began before --since.
      rotateSeconds: f.rotateSeconds ? Number(f.rotateSeconds) : store ? 3600 : undefined,
      rotateFiles: f.fileCount ? Number(f.fileCount) : undefined,
    },
    tls: f.tlsCert && f.tlsKey ? { cert: f.tlsCert, key: f.tlsKey, clientCa: f.clientCa } : undefined,
    token,
    vxlan: f.vxlanListen ? hostPort('--vxlan-listen', f.vxlanListen) : undefined,
    geneve: f.geneveListen ? hostPort('--geneve-listen', f.geneveListen) : undefined,
    gre: f.greListen ? { host: f.greListen.replace(/^\[(.*)\]$/, '$1') } : undefined,
    metrics: f.metricsListen ? hostPort('--metrics-listen', f.metricsListen) : undefined,
    limits: {
      maxAgents: f.maxAgents ? Number(f.maxAgents) : defaultAgentFileLimits.maxAgents,
      maxInterfaces: f.maxInterfaces ? Number(f.maxInterfaces) : defaultAgentFileLimits.maxInterfaces,
      idleMs: f.agentIdleTimeout !== undefined ? Number(f.agentIdleTimeout) * 1000 : defaultAgentFileLimits.idleMs,
    },
    maxVxlanSources: f.maxVxlanSources ? Number(f.maxVxlanSources) : 4096,
    streamLimits: streamLimits(f),
  };
}

// --store and its companions; -W is refused with it (the spool's cap bounds the disk instead).
function storeOptions(f: { store?: string; storeSpoolMb?: string; keepLocal?: boolean; sse?: string; storeDrainTimeout?: string; storeTimeout?: string; rotateSeconds?: string; fileCount?: string }): CollectorOptions['store'] {
  if (!f.store) {
    const stray = f.storeSpoolMb ? '--store-spool-mb' : f.keepLocal ? '--keep-local' : f.sse ? '--sse' : f.storeDrainTimeout ? '--store-drain-timeout' : f.storeTimeout ? '--store-timeout' : undefined;
    if (stray) throw new UsageError(`${stray} needs --store s3://BUCKET/PREFIX`);
    return undefined;
  }
  const location = parseStoreUrl('--store', f.store);
  if (f.fileCount) throw new UsageError('-W deletes files that may not be uploaded yet: with --store, --store-spool-mb bounds the disk instead');
  if (f.rotateSeconds && (Number(f.rotateSeconds) > 3600 || Number(f.rotateSeconds) === 0)) {
    throw new UsageError('-G with --store: at most 3600 seconds (objects are filed by hour; export looks one hour back)');
  }
  return {
    options: { ...location, sse: parseSse('--sse', f.sse) },
    capBytes: Math.round(Number(f.storeSpoolMb ?? 10_000) * 1_000_000),
    keepLocal: f.keepLocal === true,
    drainMs: Number(f.storeDrainTimeout ?? 10) * 1000,
    idleTimeoutMs: Number(f.storeTimeout ?? STORE_IDLE_TIMEOUT_S) * 1000,
  };
}

function streamLimits(f: { maxMessageMb?: string; maxStreams?: string; shutdownTimeout?: string }): Partial<CollectorLimits> {
  const out: Partial<CollectorLimits> = {};
  if (f.maxMessageMb !== undefined) {
    const bytes = Math.round(Number(f.maxMessageMb) * (1 << 20));
    if (bytes < 1 << 20 || bytes > 64 << 20) throw new UsageError('--max-message-mb: between 1 and 64 (agents send batches of at most ~1.4 MiB)');
    out.maxMessageBytes = bytes;
  }
  if (f.maxStreams !== undefined) out.maxStreams = Number(f.maxStreams);
  if (f.shutdownTimeout !== undefined) out.shutdownTimeoutMs = Math.round(Number(f.shutdownTimeout) * 1000);
  return out;
}

function hostPort(flag: string, text: string): { host: string; port: number } {
  const port = Number(text.slice(text.lastIndexOf(':') + 1));
  if (port > 65535) throw new UsageError(`${flag}: the port must be at most 65535`);
  return { host: text.slice(0, text.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1'), port };
}
