// A real Kubernetes API server for the tests: etcd + kube-apiserver on 127.0.0.1 with RBAC and
// token authentication, started by scripts/kube-test-env.sh from binaries it built into a cache
// outside the clone (`scripts/kube-test-env.sh build`; .ci/run does it).
//
// Two identities: admin (group system:masters) and the agent's ServiceAccount exactly as
// deploy/rbac.yaml binds it (user system:serviceaccount:podspan:podspan-agent, groups
// system:serviceaccounts and system:serviceaccounts:podspan), each with a kubeconfig.
//
// There is no kubelet, scheduler or controller-manager: a test creates a Pod with spec.nodeName
// already set (nothing schedules it), and patches its status through the status subresource as a
// kubelet would (`kubectl patch pod P --subresource=status --type=merge -p '{"status":{...}}'`).
// No controller makes ServiceAccounts or tokens, so the ServiceAccount admission plugin is off
// (pods need no "default" ServiceAccount); namespaces are never finalized after a delete.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './tools';

const script = path.join(repoRoot, 'scripts', 'kube-test-env.sh');

let binDirCache: string | undefined;
/** The directory holding kube-apiserver, kubectl and etcd, or undefined when not built. */
export function kubeBinDir(): string | undefined {
  if (binDirCache) return binDirCache;
  const r = spawnSync('bash', [script, 'bin-dir'], { encoding: 'utf8' });
  if (r.status === 0) binDirCache = r.stdout.trim();
  return binDirCache;
}

/** One line saying why a real API server cannot be used here (binaries not built, not Linux, ...), or undefined. */
export function kubeEnvUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `a real Kubernetes API server needs Linux (this is ${process.platform})`;
  if (spawnSync('openssl', ['version']).status !== 0) return 'a real Kubernetes API server needs openssl (its certificates and keys)';
  if (!kubeBinDir()) return 'kube-apiserver, kubectl and etcd are not built: run scripts/kube-test-env.sh build';
  return undefined;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubeEnv {
  dir: string;
  server: string; // https://127.0.0.1:PORT
  adminKubeconfig: string;
  agentKubeconfig: string;
  /** kubectl with the admin kubeconfig (or the agent's with { as: 'agent' }). */
  kubectl(args: string[], opts?: { stdin?: string; as?: 'admin' | 'agent' }): KubectlResult;
  /** kubectl apply -f for files or YAML text; throws with kubectl's message on failure. */
  apply(yamlOrFiles: string | string[]): void;
  /** etcd's client URL (its JSON gateway: /v3/kv/put, /v3/kv/compaction). */
  etcdUrl: string;
  /** Stops kube-apiserver, runs `meanwhile` (etcd still up), starts it again on the same port: watches break, state stays. */
  restartApiServer(meanwhile?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface KubeEnvOptions {
  /** kube-apiserver's --etcd-compaction-interval (default 5m): short, old resourceVersions expire soon (410 Gone). */
  compactionInterval?: string;
}

/** A YAML text (rather than a file name) is anything with a newline or a "kind:" in it. */
const isYamlText = (s: string) => s.includes('\n') || /\bkind:/.test(s);

/** Starts etcd + kube-apiserver in a fresh temporary directory; one per test file (beforeAll), stopped in afterAll. */
export async function startKubeEnv(opts: KubeEnvOptions = {}): Promise<KubeEnv> {
  const why = kubeEnvUnavailable();
  if (why) throw new Error(why);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `podspan-kube-${process.pid}-`));
  const stopScript = () => promisify(execFile)('bash', [script, 'stop', dir], { timeout: 60_000 });
  const scriptEnv = opts.compactionInterval ? { PODSPAN_KUBE_COMPACTION_INTERVAL: opts.compactionInterval } : {};
  try {
    // The script stops both servers by itself if this process dies without calling stop().
    await promisify(execFile)('bash', [script, 'start', dir], { timeout: 120_000, env: { ...process.env, ...scriptEnv, PODSPAN_KUBE_OWNER_PID: String(process.pid) } });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    await stopScript().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`kube-test-env start failed: ${(err.stderr || err.message).trim()}`);
  }
  const server = fs.readFileSync(path.join(dir, 'server'), 'utf8').trim();
  const adminKubeconfig = path.join(dir, 'admin.kubeconfig');
  const agentKubeconfig = path.join(dir, 'agent.kubeconfig');
  const kubectlBin = path.join(kubeBinDir()!, 'kubectl');

  const kubectl: KubeEnv['kubectl'] = (args, opts = {}) => {
    const kubeconfig = opts.as === 'agent' ? agentKubeconfig : adminKubeconfig;
    const r = spawnSync(kubectlBin, ['--kubeconfig', kubeconfig, ...args], {
      encoding: 'utf8',
      input: opts.stdin,
      timeout: 60_000,
      maxBuffer: 64 << 20,
      env: { ...process.env, KUBECONFIG: '', KUBECACHEDIR: path.join(dir, 'kubectl-cache') },
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  };

  const apply: KubeEnv['apply'] = (yamlOrFiles) => {
    const r =
      typeof yamlOrFiles === 'string' && isYamlText(yamlOrFiles)
        ? kubectl(['apply', '-f', '-'], { stdin: yamlOrFiles })
        : kubectl(['apply', ...[yamlOrFiles].flat().flatMap((f) => ['-f', f])]);
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr.trim() || `exit ${r.code}`}`);
  };

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= stopScript().then(() => fs.rmSync(dir, { recursive: true, force: true })));

  const restartApiServer = async (meanwhile?: () => Promise<void>) => {
    await promisify(execFile)('bash', [script, 'stop-apiserver', dir], { timeout: 60_000 });
    await meanwhile?.();
    await promisify(execFile)('bash', [script, 'start-apiserver', dir], { timeout: 120_000, env: { ...process.env, ...scriptEnv } });
  };
  const etcdUrl = fs.readFileSync(path.join(dir, 'endpoints'), 'utf8').split(' ')[0];

  return { dir, server, etcdUrl, adminKubeconfig, agentKubeconfig, kubectl, apply, restartApiServer, stop };
}

/**
 * Creates `pod` (a whole Pod object, status included, such as fake-kube-api's makePod returns) as a
 * kubelet would leave it: created with spec.nodeName set (no scheduler runs), then its status
 * written through the status subresource (the server ignores status on create).
 */
export function createPod(kube: KubeEnv, pod: object): void {
  const { status, ...rest } = pod as { status?: unknown; metadata: unknown };
  kubectlOk(kube, ['create', '-f', '-'], JSON.stringify(rest));
  if (status === undefined) return;
  const meta = rest.metadata as { name: string; namespace?: string };
  kubectlOk(kube, ['patch', 'pod', meta.name, '-n', meta.namespace ?? 'default', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

export interface AuditedRequest {
  verb: string; // list, watch, get, ...
  requestURI: string; // path and query, e.g. /api/v1/pods?fieldSelector=spec.nodeName%3Dn&watch=true
  code: number | undefined; // the response's HTTP status
}

/** The agent token's requests so far, from the API server's audit log (which records only the agent's). */
export function agentRequests(kube: KubeEnv): AuditedRequest[] {
  const file = path.join(kube.dir, 'audit.log');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { verb: string; requestURI: string; responseStatus?: { code?: number } })
    .map((e) => ({ verb: e.verb, requestURI: e.requestURI, code: e.responseStatus?.code }));
}

/** kubectl as admin that must succeed: its stdout, or an error with kubectl's message. */
export function kubectlOk(kube: KubeEnv, args: string[], stdin?: string): string {
  const r = kube.kubectl(args, { stdin });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/**
 * Waits until the CRDs (names like mirrorsessions.podspan.io) are established. `kubectl wait`
 * gives up at once, with ".status.conditions accessor error: <nil>", when it asks before the API
 * server has written a new CRD's status: it is asked again then, until the CRDs are established
 * or 60 s have passed. Throws with kubectl's message otherwise.
 */
export function waitEstablished(kube: KubeEnv, crds: string[]): void {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = kube.kubectl(['wait', '--for=condition=Established', '--timeout=30s', ...crds.map((c) => `crd/${c}`)]);
    if (r.code === 0) return;
    if (!/accessor error/.test(r.stderr) || Date.now() > deadline) throw new Error(`kubectl wait for ${crds.join(', ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // between two asks (kubectl is synchronous here too)
  }
}

/**
 * What the agent needs from a cluster, from deploy/: its namespace, the MirrorSession CRD
 * (established) and its RBAC; plus the workload namespaces a test puts pods and sessions in.
 */
export function installAgentApi(kube: KubeEnv, workloadNamespaces: string[] = []): void {
  kube.apply(['namespace.yaml', 'crd-mirrorsession.yaml', 'crd-clustermirrorsession.yaml', 'rbac.yaml'].map((f) => path.join(repoRoot, 'deploy', f)));
  waitEstablished(kube, ['mirrorsessions.podspan.io', 'clustermirrorsessions.podspan.io']);
  for (const ns of workloadNamespaces) kubectlOk(kube, ['create', 'namespace', ns]);
}
