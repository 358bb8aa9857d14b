// The agent's configuration: one YAML file (overridable by environment and flags), validated here
// once with messages that name the field and the problem. Mirror sessions have the same shape
// here and in the spec of a ClusterMirrorSession or MirrorSession resource
// (deploy/crd-*mirrorsession.yaml); what a namespaced MirrorSession may not do is src/agent/tenancy.ts.
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../errors';
import { checkFilterSyntax } from '../capture/filter-check';
import { filterTooBig } from '../capture/filter-limits';
import { parseForwardTarget, type ForwardTarget } from './forward-options';
import { parseShadowSettings, type ShadowSettings } from './shadow-options';
import { detectSchema, parseDetectConfig, type DetectSettings } from './detect-options';
import { MAX_FILE_MB, MAX_TIMER_SECONDS } from './number-flags';

const port = z.number().int().min(1).max(65535);
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: 'expected HOST:PORT' })
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, { message: 'the port must be at most 65535' });

/** A metrics address given outside the file (flag, environment), checked as the file's is. */
export function checkListen(where: string, text: string): string {
  const parsed = hostPort.safeParse(text);
  if (!parsed.success) throw new UsageError(`${where} ${text}: ${parsed.error.issues[0].message}`);
  return text;
}
const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, { message: 'expected a CIDR such as 10.0.0.0/8' });

const sessionName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'lower-case letters, digits and dashes' });
/** Keys of a Secret's data (what `kubectl create secret` allows). */
const secretKey = z.string().regex(/^[-._a-zA-Z0-9]+$/, { message: 'a Secret key: letters, digits, -, _ and .' });

/**
 * A namespaced MirrorSession's gRPC credentials: keys of Secret podspan-mirror-credentials in its
 * own namespace (never files on the node). Refused in the config file and ClusterMirrorSessions.
 */
export const grpcCredentialsSchema = z.object({ token: secretKey, ca: secretKey, cert: secretKey, key: secretKey }).partial().strict();
export type GrpcCredentialKeys = z.infer<typeof grpcCredentialsSchema>;

/**
 * Shadow testing (`podspan shadow` in the agent): the session's HTTP (or raw TCP) exchanges are
 * replayed to a candidate and its answers compared with production's. The same settings as the
 * command's flags, in the config's camelCase.
 */
export const shadowTargetSchema = z
  .object({
    target: z.string().min(1),
    primary: z.string().min(1).optional(),
    protocol: z.enum(['http', 'raw']).optional(),
    serverPorts: z.array(port).optional(),
    methods: z.array(z.string().min(1)).optional(),
    percent: z.number().min(0).max(100).optional(),
    rate: z.number().positive().optional(),
    timeoutSeconds: z.number().positive().max(3600).optional(),
    maxInFlight: z.number().int().min(1).max(100_000).optional(),
    queue: z.number().int().min(1).max(10_000_000).optional(),
    maxRoutes: z.number().int().min(1).max(100_000).optional(),
    ignore: z.array(z.string()).optional(),
    markerHeader: z.string().min(1).optional(),
    host: z.string().min(1).optional(),
    insecure: z.boolean().optional(),
    /** summary.json, diffs.jsonl and index.html, refreshed every 30 s and at the end (node files: not a MirrorSession's). */
    reportDir: z.string().min(1).optional(),
  })
  .strict();
export type ShadowTargetConfig = z.infer<typeof shadowTargetSchema>;

const sessionFields = {
  sources: z
    .object({
      /** Interface names or globs on the host (bare metal, hostNetwork pods): eth0, veth*, cali*. */
      interfaces: z.array(z.string().min(1)).default([]),
      /** Pods on this node: by namespace and label selector (Kubernetes only). */
      pods: z
        .object({
          namespaces: z.array(z.string().min(1)).default([]),
          selector: z.record(z.string()).default({}),
          /** Only pods of these names (kubectl podspan capture POD): ANDed with the selector. */
          names: z.array(z.string().min(1)).default([]),
        })
        .strict()
        .optional(),
    })
    .strict()
    .refine((s) => s.interfaces.length > 0 || s.pods !== undefined, { message: 'name interfaces, pods, or both' }),
  filter: z
    .object({
      bpf: z.string().optional(),
      protocols: z.array(z.enum(['tcp', 'udp', 'icmp', 'sctp'])).default([]),
      ports: z.array(port).default([]),
      cidrs: z.array(cidr).default([]),
      direction: z.enum(['in', 'out', 'both']).default('both'),
    })
    .strict()
    .default({}),
  /** Keep 1 in N flows (whole flows, chosen by a hash of the 5-tuple). */
  sampleOneIn: z.number().int().min(1).max(0xffffffff).default(1),
  /**
   * Count what sampling leaves out (podspan_sampled_out_packets). The kernel then hands each
   * such packet over as a 1-byte stub: ~160 ns of machine time per packet; false saves that.
   */
  countSampledOut: z.boolean().default(true),
  /**
   * Analytics: connection, HTTP/gRPC and DNS records from the captured traffic, exported as
   * Prometheus metrics on the agent's metrics server and sent to the session's grpc targets.
   */
  analyze: z.boolean().default(false),
  /**
   * Detection (README, Detection): alerts to the log, metrics, Events and the session's grpc
   * targets; thresholds as `podspan analyze --detect`; evidence pcapng files in evidenceDir.
   */
  detect: detectSchema.extend({ evidenceDir: z.string().min(1).optional() }).strict().optional(),
  /** Bytes kept of each frame (0: whole frames). */
  truncate: z.number().int().min(0).max(262144).default(0),
  targets: z
    .array(
      z.union([
        z.object({ vxlan: z.string() }).strict(),
        z.object({ geneve: z.string() }).strict(),
        z.object({ gre: z.string() }).strict(),
        z.object({ erspan: z.string() }).strict(),
        z.object({ grpc: z.string(), credentials: grpcCredentialsSchema.optional() }).strict(),
        z
          .object({
            pcap: z
              .object({
                dir: z.string().min(1),
                format: z.enum(['pcap', 'pcapng']).default('pcapng'),
                rotateMB: z.number().positive().max(MAX_FILE_MB).optional(),
                rotateSeconds: z.number().int().positive().max(MAX_TIMER_SECONDS).optional(),
                keepFiles: z.number().int().positive().max(99999).optional(),
                /** Upload each closed file (and an index) to s3://BUCKET/PREFIX; read at start-up (see README). */
                store: z.string().regex(/^s3:\/\//, { message: 'store takes s3://BUCKET/PREFIX' }).optional(),
                /** Closed files waiting for upload, at most (million bytes, all sessions of that store); default 10000. */
                storeSpoolMB: z.number().positive().optional(),
                /** Keep files after their upload. */
                keepLocal: z.boolean().optional(),
              })
              .strict()
              .refine((p) => !(p.store && p.keepFiles), { message: 'keepFiles deletes files that may not be uploaded yet: with store, storeSpoolMB bounds the disk instead' })
              .refine((p) => !(p.store && p.rotateSeconds && p.rotateSeconds > 3600), { message: 'rotateSeconds with store: at most 3600 (objects are filed by hour)' })
              .refine((p) => !(p.store && p.format === 'pcap'), { message: 'store needs format pcapng (the index reads its interface blocks)' }),
          })
          .strict(),
        z
          .object({
            streams: z
              .object({
                dir: z.string().min(1),
                /** Each stream direction kept up to its first this many bytes (tcpflow -b); the rest counted in index.jsonl. */
                maxBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
              })
              .strict(),
          })
          .strict(),
        z.object({ shadow: shadowTargetSchema }).strict(),
      ]),
    )
    .min(1, { message: 'give at least one target' })
    .max(16, { message: 'at most 16 targets' }),
  vni: z.number().int().min(0).max(0xffffff).optional(),
  priority: z.number().int().default(0),
  /**
   * A temporary session (kubectl podspan capture): from this time (RFC 3339) the agents run it no
   * more, so a client that was killed leaves nothing running. Its client renews it while it runs.
   */
  expiresAt: z.string().datetime({ offset: true }).optional(),
};

export const sessionSchema = z.object({ name: sessionName, ...sessionFields }).strict();
/** A resource's spec: the session is named from the resource's metadata; spec.name is optional and unused. */
const resourceSpecSchema = z.object({ name: sessionName.optional(), ...sessionFields }).strict();

export const agentConfigSchema = z
  .object({
    node: z.string().min(1).optional(),
    metrics: z.object({ listen: hostPort.default('127.0.0.1:9090') }).strict().default({}),
    /** Caps on the analytics metrics' series (sessions with analyze: true): the rest is labelled "other". */
    analytics: z
      .object({
        maxServers: z.number().int().min(1).max(100_000).default(500),
        maxRoutesPerServer: z.number().int().min(1).max(100_000).default(100),
      })
      .strict()
      .default({}),
    kubernetes: z
      .object({
        enabled: z.boolean().default(false),
        /** kubeconfig file; empty: in-cluster configuration. */
        kubeconfig: z.string().optional(),
        watchMirrorSessions: z.boolean().default(true),
        /** Write this node's share into each session's status, and Events on problems (RBAC: mirrorsessions/status patch, events create). */
        reportStatus: z.boolean().default(true),
        /** Status written at most this often per session. */
        statusIntervalSeconds: z.number().min(1).max(3600).default(10),
      })
      .strict()
      .default({}),
    sessions: z.array(sessionSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.sessions.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['sessions', i, 'name'], message: `duplicate session name ${s.name}` });
      seen.add(s.name);
      if (s.sources.pods && !c.kubernetes.enabled) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['sessions', i, 'sources', 'pods'], message: 'pod sources need kubernetes.enabled: true' });
      }
      s.targets.forEach((t, k) => {
        if ('credentials' in t && t.credentials) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['sessions', i, 'targets', k, 'credentials'], message: CREDENTIALS_ONLY_NAMESPACED });
      });
    });
  });

export const CREDENTIALS_ONLY_NAMESPACED =
  'credentials name keys of a namespaced MirrorSession\'s Secret; here give the grpc URL\'s token-file, ca, cert and key parameters';

export type SessionConfig = z.infer<typeof sessionSchema>;
export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Where a session comes from; the config file when absent. */
export type SessionOrigin = { kind: 'cluster'; name: string } | { kind: 'namespace'; namespace: string; name: string };

/** TLS and token material for one gRPC target, read from a Secret (never from files on the node). */
export interface GrpcCredentials {
  token?: Buffer;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** A session with its forward targets parsed (vxlan://, geneve://, gre:// and grpc:// URLs). */
export interface ResolvedSession extends SessionConfig {
  forward: ForwardTarget[];
  /** Set for sessions from resources (absent: the config file). */
  origin?: SessionOrigin;
  /** Resource sessions: pcap/streams folders must resolve inside this folder. */
  filesRoot?: string;
  /** A namespaced MirrorSession's Secret material, by index into `forward`. */
  credentials?: Map<number, GrpcCredentials>;
  /** A digest of `credentials`, so a rotated Secret restarts the capture (the bytes stay out of keys and logs). */
  credentialsDigest?: string;
  /** The session's shadow target, validated (at most one per session). */
  shadow?: ShadowSettings;
  /** With `detect`: its settings, defaults filled in. */
  detectSettings?: DetectSettings;
}

/** The `shadow:` fields whose names are not their flag's in camelCase. */
const SHADOW_FIELD_OF_FLAG: Record<string, string> = { 'server-port': 'serverPorts', timeout: 'timeoutSeconds', report: 'reportDir' };

/** A `shadow:` target as `podspan shadow`'s settings: one validation for both. */
function shadowSettingsOf(t: ShadowTargetConfig): ShadowSettings {
  const str = (v: number | undefined) => (v === undefined ? undefined : String(v));
  return parseShadowSettings({
    target: t.target,
    primary: t.primary,
    protocol: t.protocol,
    serverPort: t.serverPorts?.map(String),
    methods: t.methods?.join(','),
    percent: str(t.percent),
    rate: str(t.rate),
    timeout: str(t.timeoutSeconds),
    maxInFlight: str(t.maxInFlight),
    queue: str(t.queue),
    maxRoutes: str(t.maxRoutes),
    ignore: t.ignore,
    markerHeader: t.markerHeader,
    host: t.host,
    insecure: t.insecure,
    report: t.reportDir,
  });
}

/** "sessions[0].filter.ports[2]: Number must be less than or equal to 65535" */
export function formatIssue(where: string, union: z.ZodIssue): string {
  const issue = deepestIssue(union);
  const path = issue.path.reduce<string>((p, k) => (typeof k === 'number' ? `${p}[${k}]` : p ? `${p}.${k}` : String(k)), '');
  const message =
    issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.code === 'invalid_union' ? unionForms(issue) : issue.message;
  return `${where}: ${path || '(top level)'}: ${message}`;
}

/**
 * A union that no form matched (a target) reports zod's bare "Invalid input". The form that got
 * furthest into the value says what is wrong (`targets[0].pcap.rotateMB: Expected number`).
 */
function deepestIssue(issue: z.ZodIssue): z.ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  // A form's key missing, or an unknown field here, only says the value is not that form.
  const notThisForm = (i: z.ZodIssue) => formKeyMissing(issue, i) || (i.code === 'unrecognized_keys' && i.path.length === issue.path.length);
  let best: z.ZodIssue = issue;
  for (const form of issue.unionErrors) {
    for (const i of form.issues) {
      if (notThisForm(i)) continue;
      const deeper = deepestIssue(i);
      if (deeper.path.length > best.path.length) best = deeper;
    }
  }
  return best;
}

/** No form got further than the value itself: the fields that would start one (`vxlan`, `pcap`...). */
function unionForms(issue: z.ZodInvalidUnionIssue): string {
  const keys = issue.unionErrors.flatMap((form) => form.issues.filter((i) => formKeyMissing(issue, i)).map((i) => String(i.path[issue.path.length])));
  return keys.length ? `expected one of ${[...new Set(keys)].join(', ')}` : issue.message ?? 'Invalid input';
}

/** `i` says "Required" of a key right under the union's value: the key that would start that form. */
function formKeyMissing(union: { path: (string | number)[] }, i: z.ZodIssue): boolean {
  return i.code === 'invalid_type' && i.received === 'undefined' && i.path.length === union.path.length + 1;
}

export function validateSession(raw: unknown, where: string): ResolvedSession {
  const parsed = sessionSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(formatIssue(where, parsed.error.issues[0]));
  return resolveTargets(parsed.data, where);
}

/** A resource's spec as session `name` (the resource's own name is the agent's to choose). */
export function validateResourceSpec(raw: unknown, name: string, where: string): ResolvedSession {
  const parsed = resourceSpecSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(formatIssue(where, parsed.error.issues[0]));
  return resolveTargets({ ...parsed.data, name }, where);
}

function resolveTargets(s: SessionConfig, where: string): ResolvedSession {
  checkSessionFilter(s, where);
  const forward: ForwardTarget[] = [];
  let shadow: ShadowSettings | undefined;
  s.targets.forEach((t, i) => {
    if ('shadow' in t) {
      if (shadow) throw new UsageError(`${where}: sessions ${s.name}: targets[${i}]: one shadow target per session`);
      try {
        // The command's flag names become the config's field names in the message.
        shadow = shadowSettingsOf(t.shadow);
      } catch (err) {
        const message = (err as Error).message.replace(/--([a-z-]+)/g, (_m, flag: string) => SHADOW_FIELD_OF_FLAG[flag] ?? flag.replace(/-([a-z])/g, (_x, c: string) => c.toUpperCase()));
        throw new UsageError(`${where}: sessions ${s.name}: targets[${i}].shadow: ${message}`);
      }
      return;
    }
    const url = 'vxlan' in t ? t.vxlan : 'geneve' in t ? t.geneve : 'gre' in t ? t.gre : 'erspan' in t ? t.erspan : 'grpc' in t ? t.grpc : undefined;
    if (url === undefined) return;
    try {
      const target = parseForwardTarget(url);
      // A session's VNI applies to its VXLAN and GENEVE targets that do not name one.
      if ((target.kind === 'vxlan' || target.kind === 'geneve') && s.vni !== undefined && !new URL(url).searchParams.has('vni')) target.vni = s.vni;
      forward.push(target);
    } catch (err) {
      throw new UsageError(`${where}: sessions ${s.name}: targets[${i}]: ${(err as Error).message.replace(/^--forward /, '')}`);
    }
  });
  let detectSettings: DetectSettings | undefined;
  if (s.detect) {
    const { evidenceDir: _dir, ...thresholds } = s.detect;
    detectSettings = parseDetectConfig(thresholds, `${where}: sessions ${s.name}: detect`);
  }
  return { ...s, forward, ...(shadow ? { shadow } : {}), ...(detectSettings ? { detectSettings } : {}) };
}

/**
 * The session's own BPF, as libpcap parses it: one it refuses is the config's error, not each
 * capture's at its start. Only the syntax: whether the whole filter (rules, sampling, a pod's
 * addresses) is small enough to compile is judged per capture, off the event loop, and refuses
 * that session alone (filter-limits.ts).
 */
function checkSessionFilter(s: SessionConfig, where: string): void {
  const bpf = s.filter.bpf?.trim();
  if (!bpf || filterTooBig(bpf)) return; // too big: refused per capture, with that reason
  try {
    checkFilterSyntax(bpf);
  } catch (err) {
    throw new UsageError(`${where}: sessions ${s.name}: filter.bpf: ${(err as Error).message}`);
  }
}

/** Reads and validates FILE (YAML); NODE_NAME in the environment overrides `node`. */
export function loadAgentConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): { config: AgentConfig; sessions: ResolvedSession[] } {
  let raw: unknown = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new UsageError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const where = file ?? 'built-in defaults';
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(formatIssue(where, parsed.error.issues[0]));
  const config = parsed.data;
  if (env.NODE_NAME) config.node = env.NODE_NAME;
  if (env.PODSPAN_METRICS_LISTEN) config.metrics.listen = checkListen('PODSPAN_METRICS_LISTEN', env.PODSPAN_METRICS_LISTEN);
  return { config, sessions: config.sessions.map((s) => resolveTargets(s, where)) };
}
