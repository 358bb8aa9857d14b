// Pod names for record addresses: client_pod/server_pod ("namespace/name") and client_node/
// server_node from the pods the agent's pod watcher knows (this node's pods). hostNetwork pods
// share the node's address and are left out: an address of theirs says nothing about which pod
// answered. When a finished pod's address was given to a new one, the running pod wins.
import { isIPv6 } from 'node:net';
import type { PodInfo } from '../k8s/types';
import type { Endpoints } from './records';

export interface PodRef {
  pod: string;
  node: string;
}

/** Addresses as records write them: IPv6 compressed and lower case. */
function canonical(ip: string): string {
  if (!isIPv6(ip)) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

export class PodIndex {
  private byIp = new Map<string, PodRef>();

  constructor(pods: Iterable<PodInfo> = []) {
    this.update(pods);
  }

  /** Replaces the index with the current set of pods (the pod watcher hands the full set). */
  update(pods: Iterable<PodInfo>): void {
    const next = new Map<string, PodRef & { running: boolean }>();
    for (const p of pods) {
      if (p.hostNetwork) continue;
      const running = p.phase === 'Running';
      for (const ip of p.ips) {
        const key = canonical(ip);
        const had = next.get(key);
        if (had?.running && !running) continue;
        next.set(key, { pod: `${p.namespace}/${p.name}`, node: p.nodeName, running });
      }
    }
    this.byIp = new Map([...next].map(([ip, { pod, node }]) => [ip, { pod, node }]));
  }

  lookup(ip: string): PodRef | undefined {
    const hit = this.byIp.get(ip);
    // An IPv4 address is its canonical form: a miss stays a miss (no IPv6 check per record).
    if (hit || !ip.includes(':')) return hit;
    return this.byIp.get(canonical(ip));
  }

  /** Adds the pod fields of both ends to `r` (in place) where the address is a known pod's. */
  enrich<T extends Endpoints>(r: T): T {
    const c = this.lookup(r.client);
    if (c) {
      r.client_pod = c.pod;
      if (c.node) r.client_node = c.node;
    }
    const s = this.lookup(r.server);
    if (s) {
      r.server_pod = s.pod;
      if (s.node) r.server_node = s.node;
    }
    return r;
  }
}
