// The pods on this node, kept current by list-then-watch against the Kubernetes API (list-watch.ts).
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger';
import { DEFAULT_BACKOFF_MS, ListWatchLoop, LoopWatcher, type WatcherOptions } from './list-watch';
import type { ContainerPort, PodInfo, PodsListener } from './types';

export class PodWatcher extends LoopWatcher<PodsListener> {
  protected readonly loop: ListWatchLoop<PodInfo>;

  constructor(kc: KubeConfig, nodeName: string, log: Logger, opts: WatcherOptions = {}) {
    super();
    const api = kc.makeApiClient(CoreV1Api);
    const fieldSelector = `spec.nodeName=${nodeName}`;
    this.loop = new ListWatchLoop<PodInfo>({
      what: 'pods',
      log: log.child({ watcher: 'pods', node: nodeName }),
      watch: new Watch(kc),
      watchPath: '/api/v1/pods',
      watchQuery: { fieldSelector },
      list: async () => {
        const list = await api.listPodForAllNamespaces({ fieldSelector });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      keyOf: (obj) => (obj as V1Pod).metadata?.uid,
      convert: (obj) => podInfoFromV1Pod(obj as V1Pod),
      onChange: (pods) => this.listener?.(pods),
      backoffMs: opts.backoffMs ?? DEFAULT_BACKOFF_MS,
    });
  }

}

export function podInfoFromV1Pod(pod: V1Pod): PodInfo {
  const podIPs = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => Boolean(ip));
  const ips = podIPs.length > 0 ? podIPs : pod.status?.podIP ? [pod.status.podIP] : [];
  const ports = new Map<string, ContainerPort>();
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (typeof p.containerPort !== 'number') continue;
      const protocol = p.protocol === 'UDP' || p.protocol === 'SCTP' ? p.protocol : 'TCP';
      ports.set(`${protocol}/${p.containerPort}`, { port: p.containerPort, protocol });
    }
  }
  return {
    uid: pod.metadata?.uid ?? '',
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    labels: { ...(pod.metadata?.labels ?? {}) },
    ips,
    hostNetwork: pod.spec?.hostNetwork === true,
    phase: pod.status?.phase ?? 'Unknown',
    nodeName: pod.spec?.nodeName ?? '',
    containerPorts: [...ports.values()].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol)),
  };
}

