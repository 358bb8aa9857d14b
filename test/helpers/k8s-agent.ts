// `podspan agent` started as node "test-node" (or another) of the cluster in kube-env.ts, for the
// Kubernetes end-to-end tests: its stderr, its exit, and its per-pod captured counter.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { exitStatus, track, type Running } from './netns';
import { podspanBin, until } from './tools';
// The shared poll, re-exported for the Kubernetes suites that take it from here.
export { until };

export interface NodeAgent extends Running {
  metricsUrl: string;
  /** podspan_captured_packets of the capture of pod "namespace/name", or undefined when there is none. */
  captured(pod: string): Promise<number | undefined>;
  /**
   * Whether the agent has `file` open. A capture leaves the metrics as soon as it is detached and
   * its file is closed a moment later, so a test reading the file waits for this to turn false.
   */
  hasOpen(file: string): boolean;
}

function openFiles(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const links: string[] = [];
  for (const fd of fs.readdirSync(dir)) {
    try {
      links.push(fs.readlinkSync(path.join(dir, fd)));
    } catch {
      // closed between the listing and the readlink
    }
  }
  return links;
}

/** Starts the agent with `cfg` (metrics on 127.0.0.1:0; `env` added to this process's) and waits until it runs its first captures. */
export async function startNodeAgent(cfg: string, node = 'test-node', env: Record<string, string> = {}): Promise<NodeAgent> {
  const child = track(spawn(process.execPath, [podspanBin, 'agent', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env, NODE_NAME: node, PODSPAN_LOG_LEVEL: 'info' } }));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = exitStatus(child);
  // Start-up (the Kubernetes client, the first lists from the API server) took over 10 s on a
  // loaded 2-core machine; the wait ends as soon as the line shows.
  await until(() => /running \d+ captures/.test(err), 30_000);
  const metricsUrl = /metrics on (http:\/\/[^\s,]+)/.exec(err)![1];
  const captured = async (pod: string) => {
    const line = (await (await fetch(metricsUrl)).text()).split('\n').find((l) => l.startsWith('podspan_captured_packets{') && l.includes(`pod="${pod}"`));
    return line ? Number(line.split(' ').pop()) : undefined;
  };
  const hasOpen = (file: string) => openFiles(child.pid!).includes(path.resolve(file));
  return { child, stderr: () => err, exited, metricsUrl, captured, hasOpen };
}
