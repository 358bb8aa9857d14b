// `podspan shadow` end to end with real parts: production (v1) is a "pod" in its own network
// namespace, the candidate (v2) and the primary (v1) are pods in another; real clients (curl and
// hey) call production; podspan captures on the clients' side of production's veth, live, and
// (in the same run) `podspan capture` records a pcap that `podspan shadow -r` replays afterwards.
// Judged: the report names exactly the planted differences, POST is never replayed, production
// received exactly the clients' requests, every replayed request carries the marker header; the
// candidate down ends in exit 1 and one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNamespaces, addVeth, canUseNetns, inNs, killStarted, removeNamespaces, startInNs, stopProcess, type Running } from '../helpers/netns';
import { podspanBin, repoRoot, run } from '../helpers/tools';

const haveTools = run('which', ['curl']).code === 0 && run('which', ['hey']).code === 0;
if (!canUseNetns || !haveTools) console.log('shadow live test skipped: it needs root, iproute2, trafgen, curl and hey');

const tag = `${process.pid % 100000}`;
// Clients and podspan (nsC), production (nsP), candidate and primary (nsK).
const nsC = `shC${tag}`, nsP = `shP${tag}`, nsK = `shK${tag}`;
const devCP = `scp${tag}`, devP = `sp${tag}`, devCK = `sck${tag}`, devK = `sk${tag}`;
const PROD = '198.18.0.2', CAND = '198.18.1.2';
const HEY_REQUESTS = 200;

interface Seen {
  method: string;
  url: string;
  marker: string | null;
  conn: number;
}

const vite = path.join(repoRoot, 'node_modules', '.bin', 'vite-node');
const appMain = path.join(repoRoot, 'test', 'helpers', 'shadow-app-main.ts');
const startPod = (ns: string, version: string, host: string, port: number) => startInNs(ns, [vite, appMain, version, host, String(port)], /ready/);

async function received(pod: Running): Promise<Seen[]> {
  let out = '';
  pod.child.stdout!.removeAllListeners('data');
  pod.child.stdout!.on('data', (d) => (out += d));
  pod.child.kill('SIGINT');
  await pod.exited;
  return JSON.parse(out) as Seen[];
}

/** The clients' traffic: curl (users 1..10 on one keep-alive connection, HEAD, POST) and hey (200 GETs on 4 connections). */
function clientTraffic(): void {
  const base = `http://${PROD}:8080`;
  inNs(nsC, ['curl', '-sf', '-o', '/dev/null', ...Array.from({ length: 10 }, (_, i) => `${base}/api/users/${i + 1}`)]);
  inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-I', `${base}/health`]);
  inNs(nsC, ['curl', '-sf', '-o', '/dev/null', '-d', '{"item":1}', '-H', 'content-type: application/json', `${base}/api/orders`]);
  inNs(nsC, ['hey', '-n', String(HEY_REQUESTS), '-c', '4', `${base}/health`]);
}

const plantedRoutes = {
  'GET /api/users/{id}': { status: 1, 'body:$.price': 9, 'header:cache-control': 9 },
  'HEAD /health': {},
  'GET /health': {},
};
const routesOf = (summary: { routes: { method: string; route: string; differences: Record<string, number> }[] }) =>
  Object.fromEntries(summary.routes.map((r) => [`${r.method} ${r.route}`, r.differences]));

describe.skipIf(!canUseNetns || !haveTools)('podspan shadow with real pods, clients and capture', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-shadow-live-'));
    addNamespaces([nsC, nsP, nsK]);
    addVeth(nsC, devCP, nsP, devP);
    addVeth(nsC, devCK, nsK, devK);
    inNs(nsC, ['ip', 'addr', 'add', '198.18.0.1/24', 'dev', devCP]);
    inNs(nsP, ['ip', 'addr', 'add', `${PROD}/24`, 'dev', devP]);
    inNs(nsC, ['ip', 'addr', 'add', '198.18.1.1/24', 'dev', devCK]);
    inNs(nsK, ['ip', 'addr', 'add', `${CAND}/24`, 'dev', devK]);
  });
  afterAll(() => {
    killStarted();
    removeNamespaces([nsC, nsP, nsK]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('live and from the recorded file: exactly the planted differences, no POST replayed, production untouched, marker on every request', async () => {
    const production = await startPod(nsP, 'v1', PROD, 8080);
    let candidate = await startPod(nsK, 'v2', CAND, 8080);
    let primary = await startPod(nsK, 'v1', CAND, 8081);
    const pcap = path.join(tmp, 'prod.pcap');
    const live = path.join(tmp, 'live');
    const recorder = await startInNs(nsC, [process.execPath, podspanBin, 'capture', '-i', devCP, '-w', pcap, '--immediate', 'tcp port 8080'], /listening on/);
    const shadow = await startInNs(
      nsC,
      [process.execPath, podspanBin, 'shadow', '-i', devCP, '-f', 'tcp port 8080', '--target', `http://${CAND}:8080`, '--primary', `http://${CAND}:8081`, '--report', live],
      /listening on/,
    );
    clientTraffic();
    await new Promise((r) => setTimeout(r, 1000)); // the last FINs, ring blocks and replies
    expect(await stopProcess(shadow)).toBe(0);
    expect(await stopProcess(recorder)).toBe(0);
    const liveSummary = JSON.parse(fs.readFileSync(path.join(live, 'summary.json'), 'utf8'));
    const requests = 10 + 1 + HEY_REQUESTS;
    expect(liveSummary, shadow.stderr()).toMatchObject({ requests, compared: requests, errors: 0, differed: 10, matched: requests - 10 });
    expect(liveSummary.skipped).toMatchObject({ method: 1 });
    expect(routesOf(liveSummary)).toEqual(plantedRoutes);
    expect(shadow.stderr()).toMatch(new RegExp(`${requests} requests replayed to http://${CAND.replace(/\./g, '\\.')}:8080 .*: ${requests} compared, ${requests - 10} matched, 10 differed, 0 errors`));

    const prodSeen = await received(production);
    expect(prodSeen.length).toBe(requests + 1); // the clients' requests (POST included), nothing more
    expect(prodSeen.filter((r) => r.marker !== null)).toHaveLength(0);
    const candSeen = await received(candidate);
    expect(candSeen.filter((r) => r.method === 'POST')).toHaveLength(0);
    expect(candSeen).toHaveLength(requests);
    expect(candSeen.every((r) => r.marker === '1')).toBe(true);
    // hey's 4 connections and curl's 2 replayed ones: as many connections as the clients made.
    expect(new Set(candSeen.map((r) => r.conn)).size).toBe(6);
    expect((await received(primary)).length).toBe(requests);

    // The recorded file, replayed as fast as possible, finds the same.
    candidate = await startPod(nsK, 'v2', CAND, 8080);
    primary = await startPod(nsK, 'v1', CAND, 8081);
    const fromFile = path.join(tmp, 'file');
    const r = run('ip', ['netns', 'exec', nsC, process.execPath, podspanBin, 'shadow', '-r', pcap, '--speed', '0', '--target', `http://${CAND}:8080`, '--primary', `http://${CAND}:8081`, '--report', fromFile]);
    expect(r.code, r.stderr).toBe(0);
    const fileSummary = JSON.parse(fs.readFileSync(path.join(fromFile, 'summary.json'), 'utf8'));
    expect(fileSummary).toMatchObject({ requests, compared: requests, errors: 0, differed: 10 });
    expect(routesOf(fileSummary)).toEqual(plantedRoutes);
    expect((await received(candidate)).filter((x) => x.method === 'POST')).toHaveLength(0);
    await received(primary);

    // The candidate down: every request an error, exit 1 and one line saying so.
    const down = run('ip', ['netns', 'exec', nsC, process.execPath, podspanBin, 'shadow', '-r', pcap, '--speed', '0', '--target', `http://${CAND}:8080`, '--timeout', '1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`0 compared, 0 matched, 0 differed, ${requests} errors (refused ${requests})`);
    expect(down.stderr.trim().split('\n').pop()).toMatch(/^podspan: the candidate http:\/\/198\.18\.1\.2:8080 never answered: \d+ requests failed \(refused: /);
  }, 120_000);
});
