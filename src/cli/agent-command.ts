// `podspan agent`: the node agent. Loads and validates the config (or an embedded default for a
// first try: this host's default interface into rotating pcapng files under ./captures), serves
// metrics and health, follows pods and MirrorSession resources in a cluster, reloads on SIGHUP or
// when the file changes (a ConfigMap update), and stops on SIGTERM/SIGINT with every file
// closed valid, within 5 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent } from '../agent/agent';
import { checkListen, loadAgentConfig, type AgentConfig, type ResolvedSession } from '../config/agent-config';
import { UsageError } from '../errors';
import type { MirrorSessionResource } from '../k8s/types';
import { logger } from '../observability/logger';
import { serveMetrics } from '../observability/metrics-server';
import { defaultInterface } from '../capture/default-interface';
import { AgentStores } from '../agent/stores';
import { exitDeadline, stopSignals } from '../runtime/stop-signals';

export interface RawAgentFlags {
  config?: string;
  checkConfig?: boolean;
  metricsListen?: string;
  node?: string;
}

/** The quick-start default: no config file, no cluster. */
export function defaultSessions(iface: string): ResolvedSession[] {
  return [
    {
      name: 'host',
      sources: { interfaces: [iface] },
      filter: { protocols: [], ports: [], cidrs: [], direction: 'both' },
      sampleOneIn: 1,
      countSampledOut: true,
      analyze: false,
      truncate: 0,
      targets: [{ pcap: { dir: 'captures', format: 'pcapng', rotateMB: 100, keepFiles: 10 } }],
      priority: 0,
      forward: [],
    },
  ];
}

// Precedence: flags, then the environment (PODSPAN_CONFIG, NODE_NAME, PODSPAN_METRICS_LISTEN),
// then the file, then the defaults.
function load(raw: RawAgentFlags): { config: AgentConfig; sessions: ResolvedSession[] } {
  const loaded = loadAgentConfig(raw.config);
  if (raw.metricsListen) loaded.config.metrics.listen = checkListen('--metrics-listen', raw.metricsListen);
  if (raw.node) loaded.config.node = raw.node;
  return loaded;
}

export async function runAgent(flags: RawAgentFlags, err: NodeJS.WritableStream): Promise<number> {
  const raw = { ...flags, config: flags.config ?? (process.env.PODSPAN_CONFIG || undefined) };
  const { config, sessions } = load(raw);
  // A kubeconfig that does not load stops the agent here, before it serves /healthz: in a
  // DaemonSet the pod then crash-loops with the message instead of sitting unready.
  const kube = config.kubernetes.enabled ? await kubeConfigOf(config) : undefined;
  if (raw.checkConfig) {
    if (!raw.config) throw new UsageError('--check-config needs --config FILE (or PODSPAN_CONFIG)');
    const k8s = kube ? `Kubernetes on (${kube.where}: server ${kube.kc.getCurrentCluster()!.server})` : 'Kubernetes off';
    err.write(`${raw.config}: valid (${sessions.length} sessions); node ${config.node ?? os.hostname()}, metrics on ${config.metrics.listen}, ${k8s}\n`);
    return 0;
  }
  const node = config.node ?? os.hostname();
  const agent = new Agent(node, logger, { analyticsLimits: config.analytics });
  const stores = await startStores(sessions, agent);
  const usingDefault = !raw.config;
  const initial = usingDefault ? defaultSessions(defaultInterface()) : sessions;
  if (usingDefault) {
    err.write(`podspan agent: no --config: capturing ${initial[0].sources.interfaces[0]} into captures/host/ (pcapng, 100 MB x 10 files)\n`);
  }
  const [host, port] = [config.metrics.listen.slice(0, config.metrics.listen.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1'), Number(config.metrics.listen.slice(config.metrics.listen.lastIndexOf(':') + 1))];
  const metrics = await serveMetrics(agent.registry, host, port, () => agent.ready);
  err.write(`podspan agent on ${node}: metrics on http://${host}:${metrics.port}/metrics, ${initial.length} sessions from ${raw.config ?? 'the built-in default'}\n`);
  // The config file's sessions start at once, whether or not the Kubernetes API answers.
  await agent.setConfigSessions(initial);
  await agent.start();
  let stopK8s: (() => void) | undefined;
  if (kube) {
    err.write(`started ${agent.runningCaptures().length} captures of the config file's sessions; pods and MirrorSessions follow from ${kube.where}\n`);
    const k8s = await startKubernetes(agent, config, node, kube.kc);
    stopK8s = k8s.stop;
    void k8s.synced.then(() => err.write(`running ${agent.runningCaptures().length} captures\n`));
  } else {
    err.write(`running ${agent.runningCaptures().length} captures\n`);
  }
  for (const line of idleSessions(agent, initial)) err.write(line);

  let lastText = '';
  const reload = () => {
    if (!raw.config) return;
    lastText = readOrEmpty(raw.config);
    try {
      const next = load(raw);
      void agent.setConfigSessions(next.sessions).then(() => {
        err.write(`reloaded ${raw.config}: ${agent.runningCaptures().length} captures\n`);
        for (const line of idleSessions(agent, next.sessions)) err.write(line);
      });
    } catch (e) {
      err.write(`podspan: reload refused, keeping the running config: ${(e as Error).message}\n`);
    }
  };
  process.on('SIGHUP', reload);
  // A ConfigMap update swaps the mounted file (a symlink change): poll it and reload on change.
  lastText = raw.config ? readOrEmpty(raw.config) : '';
  const onFileChange = () => {
    const text = readOrEmpty(raw.config!);
    if (text === lastText) return;
    lastText = text;
    reload();
  };
  const fileTimer = raw.config ? setInterval(onFileChange, 2000) : undefined;
  const signals = stopSignals();
  await signals.first;
  err.write('podspan agent: stopping: closing files (at most 5 s); signal again to stop waiting for uploads\n');
  signals.onRepeat(() => {
    const uploading = stores.hurry() > 0;
    err.write(`podspan agent: second signal: ${uploading ? "not waiting for uploads; what is left stays in the sessions' folders" : 'still closing files (nothing to upload)'}\n`);
  });
  process.off('SIGHUP', reload);
  clearInterval(fileTimer);
  stopK8s?.();
  const stopStarted = Date.now();
  const cancelDeadline = exitDeadline(5000, 'podspan agent: stop took longer than 5 s, exiting', err);
  await agent.stop(3000);
  // Uploads go on for what is left of the 5 s; the rest waits in the folders for the next start.
  const abandoned = await stores.stop(Math.max(0, 4500 - (Date.now() - stopStarted)));
  await metrics.close();
  cancelDeadline();
  err.write('podspan agent stopped; files closed\n');
  // A request the store never answered must not keep the process (see UploadSpool.abandoned).
  if (abandoned) setTimeout(() => process.exit(), 100).unref();
  return 0;
}

/**
 * The config file's stores, checked before anything runs: a missing bucket or refused credentials
 * end the agent with one line. Their spools resume what an earlier run left in the sessions'
 * folders; ClusterMirrorSessions' stores start when their captures do.
 */
async function startStores(sessions: ResolvedSession[], agent: Agent): Promise<AgentStores> {
  const stores = new AgentStores(logger.child({ part: 'store' }), agent.registry);
  for (const s of sessions) await stores.spoolFor(s);
  agent.stores = stores;
  return stores;
}

/**
 * Config sessions of host interfaces that capture nothing now: a mistyped name says so at once. Not
 * an error: interfaces come and go (a pattern such as veth* waits for its first match). A session
 * whose interfaces match but whose captures could not start says why instead.
 */
function idleSessions(agent: Agent, sessions: ResolvedSession[]): string[] {
  const running = new Set(agent.runningCaptures().map((c) => c.session.name));
  const failed = new Map<string, string>();
  for (const { spec, reason } of agent.failures.values()) if (!failed.has(spec.session.name)) failed.set(spec.session.name, `${spec.iface}: ${reason}`);
  return sessions
    .filter((s) => !s.sources.pods && !running.has(s.name))
    .map((s) =>
      failed.has(s.name)
        ? `podspan agent: session ${s.name}: capture could not start on ${failed.get(s.name)}\n`
        : `podspan agent: session ${s.name}: no interface matches ${s.sources.interfaces.join(', ')} yet\n`,
    );
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The kubeconfig: kubernetes.kubeconfig, else $KUBECONFIG (its first file), else the pod's service account. */
async function kubeConfigOf(config: AgentConfig): Promise<{ kc: KubeConfig; where: string }> {
  const { loadKubeConfig } = await import('../k8s/kube-config');
  const file = config.kubernetes.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter).find(Boolean);
  return { kc: loadKubeConfig(file), where: file ?? 'the in-cluster service account' };
}

/** Watches pods and sessions; `synced` resolves once both were listed and the agent reconciled with them. */
async function startKubernetes(agent: Agent, config: AgentConfig, node: string, kc: KubeConfig): Promise<{ stop: () => void; synced: Promise<void> }> {
  const { PodWatcher } = await import('../k8s/pod-watcher');
  const { MirrorSessionWatcher } = await import('../k8s/mirror-session-watcher');
  const pods = new PodWatcher(kc, node, logger);
  const waits: Promise<unknown>[] = [pods.start((p) => void agent.setPods(p))];
  let sessions: { stop(): void } | undefined;
  let reporting: NodeJS.Timeout | undefined;
  if (config.kubernetes.watchMirrorSessions) {
    const w = new MirrorSessionWatcher(kc, logger);
    let resources: MirrorSessionResource[] = [];
    let specs = '';
    waits.push(w.start((s) => {
      resources = s;
      // Status writes (ours and other nodes') change resources too: only a change of what to run reconciles.
      const now = JSON.stringify(s.map((r) => [r.kind, r.namespace, r.name, r.spec, r.credentialsSecret]));
      if (now === specs) return;
      specs = now;
      void agent.setMirrorSessions(s);
    }));
    sessions = w;
    const { EventRecorder } = await import('../k8s/events');
    const events = new EventRecorder(kc, node, logger);
    // Alerts of sessions with detect: an Event on the pod each is about.
    agent.onAlertEvent = (a) => events.alert(a);
    if (config.kubernetes.reportStatus) {
      const { StatusWriter } = await import('../k8s/session-status');
      const status = new StatusWriter(kc, node, logger);
      let busy = false;
      reporting = setInterval(() => {
        if (busy) return; // an API server slower than the interval: skip a round rather than pile up
        busy = true;
        const shares = agent.nodeShares();
        void Promise.all([status.write(shares, resources), events.record(shares, resources)]).finally(() => (busy = false));
      }, config.kubernetes.statusIntervalSeconds * 1000);
    }
  }
  const stop = () => {
    clearInterval(reporting);
    pods.stop();
    sessions?.stop();
  };
  return { stop, synced: Promise.all(waits).then(() => agent.reconcile()) };
}
