// `kubectl podspan` (the kubectl plugin, executable kubectl-podspan): capture a pod's traffic
// from whichever node it runs on, and see the mirror sessions' per-node counters.
//   kubectl podspan capture [-n NS] POD... | -l SELECTOR --collector URL [-f BPF] [-w FILE|-] [--duration S] [-c N]
//   kubectl podspan status [-n NS | -A]
// capture creates a temporary MirrorSession for the pods (src/k8s/temporary-session.ts), reads
// its frames from the collector's live tap as they arrive, and deletes the session at the end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { parseGrpcUrl } from '../config/forward-options';
import { flagValue, intFlag, MAX_TIMER_SECONDS, positiveNumber } from '../config/number-flags';
import { StdoutWatch } from './stdout-errors';
import { KubernetesError, PodspanError, UsageError } from '../errors';
import { CLUSTER_MIRROR_SESSION_PLURAL, MIRROR_SESSION_GROUP, MIRROR_SESSION_PLURAL, MIRROR_SESSION_VERSION } from '../k8s/mirror-session-watcher';
import type { NodeStatus, SessionStatus } from '../k8s/session-status';
import { describeError } from '../k8s/list-watch';
import { TemporarySession } from '../k8s/temporary-session';

/** As kubectl finds it: --kubeconfig, else $KUBECONFIG (its first file), else ~/.kube/config, else in-cluster. */
export function clientKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  const chosen = file ?? process.env.KUBECONFIG?.split(path.delimiter).find(Boolean) ?? path.join(os.homedir(), '.kube', 'config');
  const fromFile = file !== undefined || !!process.env.KUBECONFIG || fs.existsSync(chosen);
  // Outside a pod, loadFromCluster makes a cluster of "https://undefined:undefined" ("Invalid URL" later).
  if (!fromFile && !process.env.KUBERNETES_SERVICE_HOST) {
    throw new UsageError(`no kubeconfig: ${chosen} does not exist and this is not a pod in a cluster (give --kubeconfig, or set KUBECONFIG)`);
  }
  try {
    if (fromFile) kc.loadFromFile(chosen);
    else kc.loadFromCluster();
  } catch (err) {
    throw new UsageError(`${chosen}: cannot load kubeconfig: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!kc.getCurrentCluster()) throw new UsageError(`${chosen}: kubeconfig has no current context with a cluster`);
  return kc;
}

function contextNamespace(kc: KubeConfig): string {
  return kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
}

/** "app=cart,tier=web": equality terms only (what a MirrorSession's selector holds). */
export function parseSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const term of text.split(',').map((t) => t.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)==?([-A-Za-z0-9_.]*)$/.exec(term);
    if (!m) throw new UsageError(`-l ${text}: ${term}: only KEY=VALUE terms (a MirrorSession selects by equality)`);
    out[m[1]] = m[2];
  }
  if (!Object.keys(out).length) throw new UsageError(`-l ${text}: empty selector`);
  return out;
}

interface CaptureFlags {
  namespace?: string;
  selector?: string;
  collector: string;
  agentTarget?: string;
  credentials?: string;
  filter?: string;
  write: string;
  duration?: string;
  count?: string;
  ttl: string;
  kubeconfig?: string;
}

/** "token=collector-token,ca=ca.crt": keys of Secret podspan-mirror-credentials in the namespace. */
function parseCredentials(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const term of text.split(',').filter(Boolean)) {
    const [k, v] = term.split('=');
    if (!['token', 'ca', 'cert', 'key'].includes(k) || !v) throw new UsageError(`--credentials ${text}: ${term}: expected token=KEY, ca=KEY, cert=KEY or key=KEY`);
    out[k] = v;
  }
  return out;
}

async function capture(pods: string[], f: CaptureFlags, err: NodeJS.WritableStream): Promise<number> {
  if (!pods.length && !f.selector) throw new UsageError('capture: name the pods (POD...) or give -l SELECTOR');
  const collector = parseGrpcUrl('--collector', f.collector);
  const agentTarget = f.agentTarget ?? f.collector;
  parseGrpcUrl('--agent-target', agentTarget);
  const durationS = flagValue(positiveNumber('--duration', MAX_TIMER_SECONDS).optional(), f.duration);
  const count = flagValue(intFlag('-c', 1, Number.MAX_SAFE_INTEGER), f.count);
  const ttl = flagValue(positiveNumber('--ttl', MAX_TIMER_SECONDS), f.ttl);
  const selector = f.selector ? parseSelector(f.selector) : {};
  const credentials = f.credentials ? parseCredentials(f.credentials) : undefined;
  const kc = clientKubeConfig(f.kubeconfig);
  const ns = f.namespace ?? contextNamespace(kc);

  // The pods now (the tap subscribes per pod): each named one must exist, a selector must match one.
  const core = kc.makeApiClient(CoreV1Api);
  let list;
  try {
    list = await core.listNamespacedPod({ namespace: ns, ...(f.selector ? { labelSelector: Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',') } : {}) });
  } catch (e) {
    throw new KubernetesError(`cannot list pods in namespace ${ns}: ${describeError(e)}`);
  }
  const found = new Set(list.items.map((p) => p.metadata?.name ?? ''));
  for (const p of pods) if (!found.has(p)) throw new UsageError(`pod ${ns}/${p} not found${f.selector ? ` among pods matching -l ${f.selector}` : ''}`);
  const chosen = pods.length ? pods : [...found].sort();
  if (!chosen.length) throw new UsageError(`no pod in namespace ${ns} matches -l ${f.selector}`);

  const name = TemporarySession.newName();
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    process.once('SIGHUP', () => resolve());
    if (durationS) setTimeout(resolve, durationS * 1000).unref();
  });
  const { tapIntoFile } = await import('../extcap/collector-tap');
  // Subscribed before the session exists: no frame of it is missed.
  const tapping = tapIntoFile(collector, chosen.map((pod) => ({ podNamespace: ns, podName: pod, session: `${ns}/${name}` })), f.write, stop, {
    count,
    application: 'kubectl podspan',
  });
  tapping.catch(() => undefined); // awaited below; the session must be deleted whatever happens
  const spec = {
    sources: { pods: { selector, ...(pods.length ? { names: pods } : {}) } },
    ...(f.filter ? { filter: { bpf: f.filter } } : {}),
    targets: [{ grpc: agentTarget, ...(credentials ? { credentials } : {}) }],
  };
  let session: TemporarySession | undefined;
  try {
    session = await TemporarySession.create(kc, ns, name, spec, ttl);
    err.write(`capturing pods ${chosen.map((p) => `${ns}/${p}`).join(', ')} through MirrorSession ${ns}/${name} and collector ${f.collector}\n`);
    const frames = await tapping;
    err.write(`${frames} frames\n`);
    return 0;
  } finally {
    await session?.delete();
    if (session) err.write(`MirrorSession ${ns}/${name} deleted\n`);
  }
}

interface StatusFlags {
  namespace?: string;
  allNamespaces?: boolean;
  kubeconfig?: string;
}

interface SessionObject {
  kind?: string;
  metadata?: { namespace?: string; name?: string };
  status?: Partial<SessionStatus>;
}

/** One row per session and node: what `kubectl podspan status` prints. */
export function statusRows(items: SessionObject[]): string[][] {
  const rows = [['NAMESPACE', 'NAME', 'READY', 'NODE', 'PODS', 'CAPTURES', 'CAPTURED', 'DROPPED', 'FORWARDED', 'UPDATED', 'MESSAGE']];
  for (const o of items) {
    const ready = o.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
    const nodes: Partial<NodeStatus>[] = o.status?.nodes?.length ? o.status.nodes : [{}];
    for (const n of nodes) {
      rows.push([
        o.metadata?.namespace || '(cluster)',
        o.metadata?.name ?? '',
        ready,
        n.node ?? '-',
        String(n.pods ?? '-'),
        String(n.captures ?? '-'),
        String(n.captured ?? '-'),
        String(n.dropped ?? '-'),
        String(n.forwarded ?? '-'),
        n.updated ?? '-',
        n.message ?? '',
      ]);
    }
  }
  return rows;
}

function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

async function status(f: StatusFlags, out: NodeJS.WritableStream): Promise<number> {
  const kc = clientKubeConfig(f.kubeconfig);
  const api = kc.makeApiClient(CustomObjectsApi);
  const common = { group: MIRROR_SESSION_GROUP, version: MIRROR_SESSION_VERSION };
  let items: SessionObject[];
  try {
    if (f.allNamespaces) {
      const ms = (await api.listClusterCustomObject({ ...common, plural: MIRROR_SESSION_PLURAL })) as { items: SessionObject[] };
      const cms = (await api.listClusterCustomObject({ ...common, plural: CLUSTER_MIRROR_SESSION_PLURAL })) as { items: SessionObject[] };
      items = [...cms.items, ...ms.items];
    } else {
      const ns = f.namespace ?? contextNamespace(kc);
      items = ((await api.listNamespacedCustomObject({ ...common, namespace: ns, plural: MIRROR_SESSION_PLURAL })) as { items: SessionObject[] }).items;
    }
  } catch (e) {
    throw new KubernetesError(`cannot list mirror sessions: ${describeError(e)}`);
  }
  out.write(formatTable(statusRows(items)));
  return 0;
}

function program(out: NodeJS.WritableStream, err: NodeJS.WritableStream, done: (code: number) => void): Command {
  const cmd = new Command('kubectl podspan')
    .description("podspan from kubectl: capture any pod's traffic from whichever node it runs on, and the mirror sessions' status")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`kubectl podspan: ${text.replace(/^error: /, '')}`) });
  cmd
    .command('capture')
    .description('mirror pods through a temporary MirrorSession and write their frames as they arrive (pcapng)')
    .argument('[pods...]', 'pod names in the namespace')
    .option('-n, --namespace <ns>', "the pods' namespace (default: the context's)")
    .option('-l, --selector <sel>', 'pods by label (KEY=VALUE[,KEY=VALUE])')
    .requiredOption('--collector <url>', "the collector's live tap, grpc://HOST:PORT (?insecure=1, ?tls=1&ca=FILE&token-file=FILE)")
    .option('--agent-target <url>', 'where the agents send the frames, when they reach the collector by another address (default: --collector)')
    .option('--credentials <keys>', 'keys of Secret podspan-mirror-credentials for the agents: token=KEY,ca=KEY,...')
    .option('-f, --filter <bpf>', 'BPF filter, applied on the nodes')
    .option('-w, --write <file>', 'pcapng file, or - for standard output (| wireshark -k -i -)', '-')
    .option('--duration <s>', 'stop after this many seconds')
    .option('-c, --count <n>', 'stop after this many frames')
    .option('--ttl <s>', 'the session expires this long after its last renewal (renewed every ttl/3): the most a killed client leaves it running', '60')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config)')
    .action(async (pods: string[], f: CaptureFlags) => done(await capture(pods, f, err)));
  cmd
    .command('status')
    .description("mirror sessions with each node's share: pods, captures, counters, problems")
    .option('-n, --namespace <ns>', "MirrorSessions of this namespace (default: the context's)")
    .option('-A, --all-namespaces', 'every MirrorSession and ClusterMirrorSession')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config)')
    .action(async (f: StatusFlags) => done(await status(f, out)));
  return cmd;
}

export async function main(argv: string[]): Promise<void> {
  const stdoutWatch = new StdoutWatch('kubectl podspan');
  try {
    await program(process.stdout, process.stderr, (code) => (process.exitCode = code)).parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof PodspanError) {
      process.stderr.write(`kubectl podspan: ${e.message}\n`);
      process.exitCode = e.code === 'ERR_USAGE' ? 2 : 1;
      return;
    }
    process.stderr.write(`kubectl podspan: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    process.exitCode = 1;
  } finally {
    stdoutWatch.done();
  }
}
