// `--protocol raw` against two real Redis servers (Debian's redis-server) whose data differs in
// known keys: production's turns are real RESP requests and replies, the candidate's replies are
// read turn by turn on podspan's own connection and compared byte for byte.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { parseShadowFlags } from '../../src/config/shadow-options';
import { runShadow } from '../../src/shadow/run';
import { closedPort } from '../helpers/shadow-apps';
import { batchSource, MetaBuilder, rawTurn } from '../helpers/shadow-meta';
import fs from 'node:fs';
import path from 'node:path';
import { canUseNetns, inNs, startInNs, stopProcess } from '../helpers/netns';
import { CAND, PROD, ShadowPods } from '../helpers/shadow-pods';
import { podspanBin, run } from '../helpers/tools';

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

const pods = new ShadowPods('sr');

describe.skipIf(!haveRedis || !canUseNetns || run('which', ['redis-cli']).code !== 0)('podspan shadow --protocol raw, live: Redis pods and redis-cli', () => {
  beforeAll(() => pods.setup());
  afterAll(() => pods.teardown());

  it('captured on production\'s veth, replayed to the candidate pod: exactly the turns on the differing keys', async () => {
    const redisIn = (ns: string, host: string) =>
      startInNs(ns, ['sh', '-c', `exec redis-server --port 6379 --bind ${host} --save '' --appendonly no --protected-mode no >&2`], /Ready to accept connections/);
    const prodRedis = await redisIn(pods.nsP, PROD);
    const candRedis = await redisIn(pods.nsK, CAND);
    const cli = (host: string, commands: string) => execFileSync('ip', ['netns', 'exec', pods.nsC, 'redis-cli', '-h', host], { input: commands, encoding: 'utf8' });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i + 1}`);
    cli(PROD, keys.map((k) => `SET ${k} value-${k}\n`).join(''));
    cli(CAND, keys.filter((k) => k !== 'k8').map((k) => `SET ${k} ${k === 'k3' ? 'changed' : `value-${k}`}\n`).join(''));

    const report = path.join(pods.tmp, 'raw');
    const shadow = await startInNs(
      pods.nsC,
      [process.execPath, podspanBin, 'shadow', '-i', pods.devC, '-f', 'tcp port 6379', '--protocol', 'raw', '--server-port', '6379', '--target', `tcp://${CAND}:6379`, '--report', report],
      /listening on/,
    );
    // One connection: GET k1..k10 and EXISTS k8, each waiting for its reply (one turn each). Not
    // redis-cli here: its first command, COMMAND DOCS, lists commands in an order that differs
    // between any two servers (hash order), a difference of no interest to this test.
    const client = `
      const s = require('net').connect(6379, '${PROD}');
      const cmds = ${JSON.stringify([...keys.map((k) => ['GET', k]), ['EXISTS', 'k8']])};
      const out = []; let buf = '';
      const next = () => {
        if (!cmds.length) { s.end(); console.log(JSON.stringify(out)); return; }
        const c = cmds.shift();
        s.write('*' + c.length + '\\r\\n' + c.map((a) => '$' + a.length + '\\r\\n' + a + '\\r\\n').join(''));
      };
      s.on('data', (d) => {
        buf += d;
        const m = /^(\\$(\\d+)\\r\\n|:)/.exec(buf);
        const need = m && m[2] ? buf.indexOf('\\r\\n') + 2 + Number(m[2]) + 2 : buf.indexOf('\\r\\n') + 2;
        if (buf.indexOf('\\r\\n') >= 0 && buf.length >= need) { out.push(buf.trim().split('\\r\\n').pop()); buf = ''; next(); }
      });
      s.on('connect', next);`;
    const out = JSON.parse(inNs(pods.nsC, [process.execPath, '-e', client]));
    expect(out).toEqual([...keys.map((k) => `value-${k}`), ':1']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stopProcess(shadow)).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(report, 'summary.json'), 'utf8'));
    expect(summary, shadow.stderr()).toMatchObject({ requests: 11, compared: 11, matched: 8, differed: 3, errors: 0 });
    expect(summary.routes.map((r: { route: string; differences: unknown }) => [r.route, r.differences])).toEqual([[':6379', { turn: 3 }]]);
    const diffs = fs.readFileSync(path.join(report, 'diffs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(diffs).toHaveLength(3);
    prodRedis.child.kill('SIGKILL');
    candRedis.child.kill('SIGKILL');
  }, 60_000);
});
