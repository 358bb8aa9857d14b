// The shadow tests' "pods": clients and podspan in one network namespace (C), production in
// another (P, 198.18.0.2), the candidate and the primary in a third (K, 198.18.1.2), each joined
// to C by a veth pair. Apps are test/helpers/shadow-app-main.ts run by vite-node; on SIGINT they
// tell what they received. Names carry the test's PID and a prefix.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNamespaces, addVeth, inNs, killStarted, removeNamespaces, startInNs, type Running } from './netns';
import { repoRoot } from './tools';

export const PROD = '198.18.0.2';
export const CAND = '198.18.1.2';

export interface Seen {
  method: string;
  url: string;
  marker: string | null;
  conn: number;
  bodySha: string;
  bodyLength: number;
}

const vite = path.join(repoRoot, 'node_modules', '.bin', 'vite-node');
const appMain = path.join(repoRoot, 'test', 'helpers', 'shadow-app-main.ts');

export class ShadowPods {
  readonly nsC: string;
  readonly nsP: string;
  readonly nsK: string;
  /** C's end of the veth to production: where podspan captures. */
  readonly devC: string;
  tmp = '';

  constructor(prefix: string) {
    const tag = `${process.pid % 100000}`;
    [this.nsC, this.nsP, this.nsK] = ['C', 'P', 'K'].map((x) => `${prefix}${x}${tag}`);
    this.devC = `${prefix}cp${tag}`;
  }

  setup(): void {
    const tag = `${process.pid % 100000}`;
    const p = this.nsC.slice(0, -1 - tag.length);
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-'));
    addNamespaces([this.nsC, this.nsP, this.nsK]);
    addVeth(this.nsC, this.devC, this.nsP, `${p}p${tag}`);
    addVeth(this.nsC, `${p}ck${tag}`, this.nsK, `${p}k${tag}`);
    inNs(this.nsC, ['ip', 'addr', 'add', '198.18.0.1/24', 'dev', this.devC]);
    inNs(this.nsP, ['ip', 'addr', 'add', `${PROD}/24`, 'dev', `${p}p${tag}`]);
    inNs(this.nsC, ['ip', 'addr', 'add', '198.18.1.1/24', 'dev', `${p}ck${tag}`]);
    inNs(this.nsK, ['ip', 'addr', 'add', `${CAND}/24`, 'dev', `${p}k${tag}`]);
  }

  teardown(): void {
    killStarted();
    removeNamespaces([this.nsC, this.nsP, this.nsK]);
    if (this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  /** The app (v1, v2, reset, slow:MS) in namespace `ns` on host:port. */
  app(ns: string, version: string, host: string, port: number): Promise<Running> {
    return startInNs(ns, [vite, appMain, version, host, String(port)], /ready/);
  }

  /** Stops an app and returns what it received. */
  async received(pod: Running): Promise<Seen[]> {
    let out = '';
    pod.child.stdout!.removeAllListeners('data');
    pod.child.stdout!.on('data', (d) => (out += d));
    pod.child.kill('SIGINT');
    await pod.exited;
    return JSON.parse(out) as Seen[];
  }
}
