// The host-side network interface of a pod: where to capture its traffic. The API does not say
// (the CNI plugin made the interface), so ask the host's routing: the route to the pod's IP leads
// to its veth (Calico cali*, Cilium lxc*, ptp) or to a bridge (bridge/flannel cni0, docker0);
// behind a bridge, the port that learned the pod's MAC is the pod's veth.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { PodInfo } from './types';

export interface PodInterfaceDeps {
  /** Runs a command without a shell; returns stdout, throws when it fails. */
  run(command: string, args: string[]): string;
  isBridge(dev: string): boolean;
  /** The bridge `dev` is a port of, or undefined (gone, or no longer enslaved). */
  masterOf(dev: string): string | undefined;
}

const COMMAND_TIMEOUT_MS = 2_000;

export const hostCommands: PodInterfaceDeps = {
  run: (command, args) => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS }),
  isBridge: (dev) => fs.existsSync(`/sys/class/net/${dev}/bridge`),
  masterOf: (dev) => {
    try {
      return path.basename(fs.readlinkSync(`/sys/class/net/${dev}/master`));
    } catch {
      return undefined;
    }
  },
};

/** "POD-UID/IP" -> the bridge port found for it, most recently used last. */
export type LearnedPorts = Map<string, { bridge: string; port: string }>;
const learnedPorts: LearnedPorts = new Map();
const MAX_LEARNED_PORTS = 4096;

/**
 * The host interface that carries `pod`'s traffic, or undefined: for hostNetwork pods (the agent
 * filters those by port instead), pods whose IPs route via a gateway or to a local address (not
 * attached to this host), and pods behind a bridge the host has not exchanged a frame with yet
 * (no neighbour entry, so no MAC to look up: ask again later).
 */
export function hostInterfaceForPod(pod: PodInfo, deps: PodInterfaceDeps = hostCommands, learned: LearnedPorts = learnedPorts): string | undefined {
  if (pod.hostNetwork) return undefined;
  for (const ip of pod.ips) {
    // The IP becomes a command argument: never let something like "-batch" through.
    if (net.isIP(ip) === 0) continue;
    const dev = routeDevice(ip, deps);
    if (!dev) continue;
    if (!deps.isBridge(dev)) return dev;
    const mac = neighbourMac(ip, dev, deps);
    const port = mac ? bridgePortWithMac(dev, mac, deps) : undefined;
    // Why remember: the bridge forgets a MAC after ageing_time (300 s) without a frame from it, and
    // the neighbour entry may go too, so a pod that is merely idle would lose its capture (the
    // agent asks again every few seconds). The port stays the pod's while it is still a port of
    // this bridge (the CNI deletes the veth with the pod sandbox; a new pod has a new UID).
    const key = `${pod.uid}/${ip}`;
    const known = learned.get(key);
    learned.delete(key);
    const found = port ?? (known && known.bridge === dev && deps.masterOf(known.port) === dev ? known.port : undefined);
    if (found) {
      learned.set(key, { bridge: dev, port: found });
      if (learned.size > MAX_LEARNED_PORTS) learned.delete(learned.keys().next().value!);
      return found;
    }
  }
  return undefined;
}

interface RouteEntry {
  type?: string;
  dst?: string;
  gateway?: string;
  dev?: string;
}
interface NeighbourEntry {
  dst?: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}
interface FdbEntry {
  mac?: string;
  ifname?: string;
  state?: string;
}

/** The device the host sends to `ip` through, when the pod is directly attached (no gateway). */
function routeDevice(ip: string, deps: PodInterfaceDeps): string | undefined {
  const routes = runJson<RouteEntry[]>(deps, 'ip', ['-j', 'route', 'get', ip]);
  const route = routes?.[0];
  if (!route?.dev) return undefined;
  // A gateway means another host (or an overlay) owns the pod; "local" means the IP is the host's.
  if (route.gateway || route.type === 'local' || route.dev === 'lo') return undefined;
  return route.dev;
}

function neighbourMac(ip: string, dev: string, deps: PodInterfaceDeps): string | undefined {
  const entries = runJson<NeighbourEntry[]>(deps, 'ip', ['-j', 'neigh', 'show', ip, 'dev', dev]) ?? [];
  const usable = entries.find((e) => e.lladdr && (e.dev === undefined || e.dev === dev) && !e.state?.includes('FAILED'));
  return usable?.lladdr?.toLowerCase();
}

function bridgePortWithMac(bridge: string, mac: string, deps: PodInterfaceDeps): string | undefined {
  const entries = runJson<FdbEntry[]>(deps, 'bridge', ['-j', 'fdb', 'show', 'br', bridge]) ?? [];
  return entries.find((e) => e.mac?.toLowerCase() === mac && e.ifname && e.ifname !== bridge)?.ifname;
}

/** The command's JSON output, or undefined when it fails (no route, no such device) or prints none. */
function runJson<T>(deps: PodInterfaceDeps, command: string, args: string[]): T | undefined {
  let out: string;
  try {
    out = deps.run(command, args);
  } catch {
    return undefined;
  }
  try {
    return out.trim() ? (JSON.parse(out) as T) : undefined;
  } catch {
    return undefined;
  }
}
