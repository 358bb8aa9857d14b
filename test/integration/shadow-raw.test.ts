// `--protocol raw` against two real Redis servers (Debian's redis-server) whose data differs in
// known keys: production's turns are real RESP requests and replies, the candidate's replies are
// read turn by turn on podspan's own connection and compared byte for byte.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { parseShadowFlags } from '../../src/config/shadow-options';
import { runShadow } from '../../src/shadow/run';
import { closedPort } from '../helpers/shadow-apps';
import { batchSource, MetaBuilder, rawTurn } from '../helpers/shadow-meta';
import { run } from '../helpers/tools';

const haveRedis = run('which', ['redis-server']).code === 0;
const started: ChildProcess[] = [];

async function redis(): Promise<number> {
  const port = await closedPort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' });
  started.push(child);
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return port;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

const resp = (...args: string[]) => Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
/** A complete RESP reply (simple string, error, integer, or bulk string). */
const complete = (b: Buffer) => {
  const s = b.toString('latin1');
  if (!s.includes('\r\n')) return false;
  if (s[0] !== '$') return true;
  const n = Number(s.slice(1, s.indexOf('\r\n')));
  return n < 0 || b.length >= s.indexOf('\r\n') + 2 + n + 2;
};

async function command(port: number, ...args: string[]): Promise<Buffer> {
  const s = net.connect(port, '127.0.0.1');
  const reply = await rawTurn(s, resp(...args), complete);
  s.destroy();
  return reply;
}

let production = 0;
let candidate = 0;

beforeAll(async () => {
  if (!haveRedis) return;
  [production, candidate] = await Promise.all([redis(), redis()]);
  for (let i = 1; i <= 10; i++) {
    await command(production, 'SET', `k${i}`, `value-${i}`);
    // The candidate's data: k3 changed, k8 missing.
    if (i === 3) await command(candidate, 'SET', 'k3', 'changed');
    else if (i !== 8) await command(candidate, 'SET', `k${i}`, `value-${i}`);
  }
});

afterAll(() => {
  for (const c of started) if (c.exitCode === null) c.kill('SIGKILL');
});

describe.skipIf(!haveRedis)('podspan shadow --protocol raw: two real Redis servers', () => {
  it('names exactly the turns whose replies differ (k3 changed, k8 missing), on one connection per captured one', async () => {
    // Two captured connections: PING + GET k1..k5, and GET k6..k10 + EXISTS k8.
    const meta = new MetaBuilder();
    const batches = [];
    const conns: string[][] = [
      ['PING', 'GET k1', 'GET k2', 'GET k3', 'GET k4', 'GET k5'],
      ['GET k6', 'GET k7', 'GET k8', 'GET k9', 'GET k10', 'EXISTS k8'],
    ];
    for (const [c, cmds] of conns.entries()) {
      const sock = net.connect(production, '127.0.0.1');
      meta.open(String(c), 6379);
      for (const [seq, cmd] of cmds.entries()) {
        const request = resp(...cmd.split(' '));
        meta.turn(String(c), seq, request, await rawTurn(sock, request, complete));
      }
      meta.close(String(c));
      sock.destroy();
      batches.push(meta.take());
    }
    const before = (await command(candidate, 'INFO', 'stats')).toString();
    const r = await runShadow(parseShadowFlags({ read: 'x.pcap', target: `tcp://127.0.0.1:${candidate}`, protocol: 'raw', serverPort: ['6379'], speed: '0' } as never), batchSource(batches, false), new Writable({ write: (_c, _e, cb) => cb() }));
    expect(r.summary).toMatchObject({ requests: 12, compared: 12, matched: 9, differed: 3, errors: 0 });
    expect(r.summary.routes.map((x) => [x.method, x.route, x.differences])).toEqual([['TCP', ':6379', { turn: 3 }]]);
    // The candidate saw two new connections (the INFO connections aside).
    const connections = (info: string) => Number(/total_connections_received:(\d+)/.exec(info)![1]);
    const after = (await command(candidate, 'INFO', 'stats')).toString();
    expect(connections(after) - connections(before)).toBe(3); // the two replay connections + this INFO
  });
});
