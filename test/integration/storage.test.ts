// Capture storage in a real S3-compatible server (Versity Gateway, test/helpers/s3-env.ts) end to
// end: two "nodes" (forwarders named node-a and node-b capturing the host side of two pods' veths)
// mirror to two collectors (flows sharded) that upload with --store; `podspan export` of one node,
// and of both merged, equals what tcpdump captured on those veths (count, bytes, order); the index
// objects say what the files hold. Faults: the server stopped ~20 s mid-run then restarted (nothing
// lost, the spool drained), the server frozen (SIGSTOP: connections accepted, nothing answered)
// at shutdown, wrong credentials and a missing bucket (one line, exit 1), the spool's cap reached
// (the oldest files dropped, counted exactly). The agent's own pcap target with store: too.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type CollectorProcess } from '../helpers/collector-process';
import { addNamespaces, addPodVeth, canUseNetns, exitStatus, killStarted, removeNamespaces, stopProcess, track, trafgen, type Running } from '../helpers/netns';
import { s3EnvUnavailable, startS3Env, type S3Env } from '../helpers/s3-env';
import { ownThread, threadsOf, threadsWhen, type ThreadInfo } from '../helpers/threads';
import { podspanBin, run, until } from '../helpers/tools';

const s3Unavailable = s3EnvUnavailable();
if (!canUseNetns) console.log('storage tests skipped: they need root, iproute2 and trafgen (netsniff-ng)');
else if (s3Unavailable) console.log(`storage tests skipped: ${s3Unavailable}`);

const tag = `${process.pid % 100000}`;
// A "pod": a namespace whose eth0's peer (host side, captured) is in this namespace.
const pods = ['a', 'b'].map((n) => ({ n, ns: `psS${tag}${n}`, host: `ps${tag}h${n}`, node: `node-${n}` }));

describe.skipIf(!canUseNetns || s3Unavailable)('capture storage in S3', () => {
  let tmp: string;
  let s3: S3Env;
  let client: S3Client;
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-storage-'));
    s3 = await startS3Env();
    client = new S3Client({ endpoint: s3.env.AWS_ENDPOINT_URL, region: s3.env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY } });
    addNamespaces(pods.map((p) => p.ns));
    for (const p of pods) addPodVeth(p.ns, p.host);
  }, 60_000);
  afterAll(async () => {
    killStarted();
    for (const p of pods) run('ip', ['link', 'del', p.host]);
    removeNamespaces(pods.map((p) => p.ns));
    await s3?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const store = (prefix: string) => `s3://${s3.bucket}/${prefix}`;
  /**
   * Runs `fn` with the S3 server frozen (SIGSTOP: its socket still accepts, through the kernel's
   * backlog, but nothing answers), thawed after whatever happens.
   */
  async function whileStoreFrozen<T>(fn: () => Promise<T>): Promise<T> {
    const serverPid = Number(fs.readFileSync(path.join(s3.dir, 'versitygw.pid'), 'utf8'));
    process.kill(serverPid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      process.kill(serverPid, 'SIGCONT');
    }
  }
  const collector = (prefix: string, out: string, extra: string[] = [], env: Record<string, string> = s3.env) =>
    startCollector(['--out', path.join(tmp, out), '--store', store(prefix), '--metrics-listen', '127.0.0.1:0', ...extra], env);

  /** A process in this namespace, ready once `ready` shows on stderr. */
  async function start(cmd: string[], ready: RegExp, env: Record<string, string> = {}): Promise<Running> {
    const child = track(spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } }));
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = exitStatus(child);
    const deadline = Date.now() + 15_000;
    while (!ready.test(err)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${cmd.join(' ')} did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { child, stderr: () => err, exited };
  }
  /** A node's forwarder: podspan capture on the pod's host-side veth, named after the node. */
  const forwarder = (p: (typeof pods)[number], collectors: CollectorProcess[]) =>
    start([process.execPath, podspanBin, 'capture', '-i', p.host, '-f', 'udp or tcp', ...collectors.flatMap((c) => ['--forward', `grpc://127.0.0.1:${c.port}`])], /listening on/, { NODE_NAME: p.node });
  const tcpdump = (p: (typeof pods)[number], file: string) =>
    start(['tcpdump', '-i', p.host, '-w', file, '--time-stamp-precision=nano', '-U', 'udp or tcp'], /listening on/);
  /**
   * Stops tcpdump once its file holds `count` frames (what the forwarder captured on the same veth
   * with the same filter): stopped earlier, under load, it drops what its ring still holds.
   */
  const stopDump = async (dump: Awaited<ReturnType<typeof tcpdump>>, file: string, count: number) => {
    await until(async () => frames(file).length >= count, 15_000, `tcpdump's file holding the ${count} frames the forwarder captured`);
    expect(await stopProcess(dump)).toBe(0);
  };
  const capturedBy = (fwd: { stderr(): string }) => Number(/(\d+) packets captured/.exec(fwd.stderr())![1]);
  const exportCmd = (args: string[]) => run(process.execPath, [podspanBin, 'export', ...args], { timeoutMs: 60_000, env: { ...process.env, ...s3.env } });

  /** What tshark sees of each frame, in file order: time (ns), length, bytes. */
  const frames = (file: string) =>
    run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.protocols', '-e', 'data.data', '-e', 'tcp.srcport'])
      .stdout.split('\n')
      .filter(Boolean);
  const keys = async (prefix: string) => {
    const r = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    return (r.Contents ?? []).map((o) => o.Key!).sort();
  };
  const getJson = async (key: string) => JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToString());
  const metric = async (c: CollectorProcess, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(c.metricsUrl!)).text())?.[1] ?? NaN);
  /** Frames the collector wrote, all agents. */
  const framesWritten = async (c: CollectorProcess) =>
    [...(await (await fetch(c.metricsUrl!)).text()).matchAll(/^podspan_collector_frames_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);

  it('two nodes, two collectors: the index objects say what each file holds, export equals tcpdump of the veths', async () => {
    const c1 = await collector('e2e', 'c1'), c2 = await collector('e2e', 'c2');
    const direct = pods.map((p) => path.join(tmp, `direct-${p.n}.pcap`));
    const dumps = await Promise.all(pods.map((p, i) => tcpdump(p, direct[i])));
    const fwd = await Promise.all(pods.map((p) => forwarder(p, [c1, c2])));
    trafgen(pods[0].ns, 'eth0', 2000, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
    trafgen(pods[1].ns, 'eth0', 1500, { proto: 'tcp', sport: 'dinc(41000, 41031)', payload: 100, pps: 20000 });
    trafgen(pods[0].ns, 'eth0', 500, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
    for (const f of fwd) expect(await stopProcess(f)).toBe(0);
    for (const [i, d] of dumps.entries()) await stopDump(d, direct[i], capturedBy(fwd[i]));
    for (const c of [c1, c2]) expect(await stopProcess(c, 'SIGTERM'), c.stderr()).toBe(0);
    for (const c of [c1, c2]) expect(c.stderr()).toMatch(/store: \d+ files \(\d+ bytes\) uploaded, 0 failed attempts, 0 files \(0 bytes\) left in the spool, 0 dropped/);
    expect(fs.readdirSync(path.join(tmp, 'c1')).filter((f) => f.endsWith('.pcapng'))).toEqual([]); // uploaded: gone (no --keep-local)

    // Objects: PREFIX/YYYY/MM/DD/HH/NODE/FILE, each pcapng with its index beside it.
    const all = await keys('e2e/');
    const captures = all.filter((k) => k.endsWith('.pcapng'));
    expect(captures.length, `${captures.join(' ')}\n${c1.stderr()}\n${c2.stderr()}`).toBe(4); // 2 nodes x 2 collectors
    for (const k of captures) {
      expect(k).toMatch(/^e2e\/\d{4}\/\d\d\/\d\d\/\d\d\/node-[ab]\/[^/]+\.pcapng$/);
      expect(all).toContain(`${k}.index.json`);
    }
    const indexes = await Promise.all(captures.map((k) => getJson(`${k}.index.json`)));
    for (const [i, p] of pods.entries()) {
      const mine = indexes.filter((x) => x.node === p.node);
      expect(mine.reduce((n, x) => n + x.packets, 0)).toBe(frames(direct[i]).length);
      expect(new Set(mine.flatMap((x) => x.interfaces.map((f: { name: string }) => f.name)))).toEqual(new Set([`${p.node}/${p.host}`]));
    }
    // node-b sent 32 TCP flows (SYNs), split between the collectors, each listed once.
    const flowsB = indexes.filter((x) => x.node === 'node-b').flatMap((x) => x.flows.map((f: { clientPort: number }) => f.clientPort));
    expect(flowsB.sort((x, y) => x - y)).toEqual(Array.from({ length: 32 }, (_, k) => 41000 + k));

    const since = new Date(Date.now() - 600_000).toISOString();
    const outA = path.join(tmp, 'export-a.pcapng');
    const r = exportCmd(['--store', store('e2e'), '--since', since, '--node', 'node-a', '-w', outA]);
    expect(r.stderr).toMatch(/2 of 2 indexed files match/); // --node: only that node's keys are listed
    expect(r.code).toBe(0);
    expect(frames(outA)).toEqual(frames(direct[0])); // count, bytes, times and order
    // Since 2000: the years are listed, not the ~235,000 hours one request each (that outlasted
    // this test); the same file, node-a's keys kept from the years' listings.
    const outYears = path.join(tmp, 'export-years.pcapng');
    const years = exportCmd(['--store', store('e2e'), '--since', '2000-01-01T00:00:00Z', '--until', '9999-01-01T00:00:00Z', '--node', 'node-a', '-w', outYears]);
    expect([years.code, years.stderr]).toEqual([0, expect.stringMatching(/2 of 2 indexed files match/)]);
    expect(frames(outYears)).toEqual(frames(direct[0]));
    const both = path.join(tmp, 'export-all.pcapng');
    expect(exportCmd(['--store', store('e2e'), '--since', since, '-w', both]).code).toBe(0);
    const merged = [...frames(direct[0]), ...frames(direct[1])].sort((x, y) => (x.split('\t')[0] < y.split('\t')[0] ? -1 : x.split('\t')[0] > y.split('\t')[0] ? 1 : 0));
    expect(frames(both).length).toBe(merged.length);
    expect(frames(both).map((l) => l.split('\t')[0])).toEqual(merged.map((l) => l.split('\t')[0])); // in time order
    expect(frames(both).sort()).toEqual(merged.sort());
    const names = run('tshark', ['-r', both, '-T', 'fields', '-e', 'frame.interface_name']).stdout.trim().split('\n');
    expect(new Set(names)).toEqual(new Set(pods.map((p) => `${p.node}/${p.host}`)));
    // A BPF filter on top: only node-b's TCP.
    const tcpOut = path.join(tmp, 'export-tcp.pcapng');
    expect(exportCmd(['--store', store('e2e'), '--since', since, '-f', 'tcp', '-w', tcpOut]).code).toBe(0);
    expect(frames(tcpOut)).toEqual(frames(direct[1]));
    const list = exportCmd(['--store', store('e2e'), '--since', since, '--node', 'node-b', '--list']);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
    expect(list.stdout).toMatch(/node-b\/ps\d+hb \(\d+ packets\)/);
  }, 120_000);

  it("the collector's uploads run off its event loop, in one thread of the lowest priority (nice 19)", async () => {
    const c = await collector('thread', 'thread', ['-C', '0.1']);
    const fwd = await forwarder(pods[0], [c]);
    trafgen(pods[0].ns, 'eth0', 1000, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
    await until(async () => (await metric(c, 'podspan_store_uploaded_files_total')) >= 1, 30_000, 'a first upload');
    // The upload thread, and the reader of an index read it may have started (podspan-capture).
    // A reader is named by its starter just after it exists: caught in between (a loaded machine
    // can hold the starter there) it still has the starter's name, so look until none is.
    const uploadThreads = (ts: ThreadInfo[]) => ts.filter((t) => t.nice === 19 && t.comm !== 'podspan-capture');
    const threads = await threadsWhen(c.pid!, (ts) => uploadThreads(ts).length === 1);
    expect(uploadThreads(threads), JSON.stringify(threads)).toHaveLength(1);
    const lowered = threads.filter((t) => t.nice === 19);
    // Nice 19 only, not SCHED_IDLE: a thread there could not be raised back to end at shutdown.
    expect(lowered.map((t) => t.policy)).toEqual(lowered.map(() => ownThread().policy));
    const main = threadsOf(c.pid!).find((t) => t.tid === c.pid)!;
    expect([main.nice, main.policy]).toEqual([ownThread().nice, ownThread().policy]);
    expect(await stopProcess(fwd)).toBe(0);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/0 files \(0 bytes\) left in the spool, 0 dropped/);
  }, 60_000);

  it("at shutdown the drain runs at the process's priority: ingest has ended, and at nice 19 a busy machine starved the uploads past the drain deadline", async () => {
    const c = await collector('drain', 'drain', ['-C', '0.1', '--store-drain-timeout', '4']);
    const fwd = await forwarder(pods[0], [c]);
    trafgen(pods[0].ns, 'eth0', 1000, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
    await until(async () => (await metric(c, 'podspan_store_uploaded_files_total')) >= 1, 30_000, 'a first upload');
    expect(threadsOf(c.pid!).filter((t) => t.nice === 19).length).toBeGreaterThanOrEqual(1);
    expect(await stopProcess(fwd)).toBe(0);
    // Frozen, the store keeps the last file in the spool for the whole 4 s drain.
    await whileStoreFrozen(async () => {
      const stopped = stopProcess(c, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 300)); // stopProcess's own wait before the signal
      const drainStart = Date.now();
      const during = await threadsWhen(c.pid!, (ts) => ts.every((t) => t.nice !== 19), 3000);
      expect(Date.now() - drainStart, 'still lowered 3 s into the 4 s drain').toBeLessThan(3000);
      expect(during.filter((t) => t.nice === 19)).toEqual([]);
      expect(await stopped, c.stderr()).toBe(0);
    });
    expect(c.stderr()).toMatch(/store: \d+ files \(\d+ bytes\) uploaded, \d+ failed attempts, [1-9]\d* files \(\d+ bytes\) left in the spool, 0 dropped/);
  }, 60_000);

  it('the S3 server stopped ~20 s mid-run and restarted: nothing lost, the spool drained', async () => {
    const c = await collector('outage', 'outage', ['-C', '0.1']); // ~100 kB files: several close during the outage
    const direct = path.join(tmp, 'outage-direct.pcap');
    const dump = await tcpdump(pods[0], direct);
    const fwd = await forwarder(pods[0], [c]);
    const burst = () => trafgen(pods[0].ns, 'eth0', 400, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
    burst();
    await until(async () => (await metric(c, 'podspan_store_uploaded_files_total')) >= 1, 30_000, 'a first upload');
    let duringOutage = { failures: 0, waiting: 0 };
    await s3.restart(async () => {
      const t0 = Date.now();
      while (Date.now() - t0 < 20_000) {
        burst();
        await new Promise((r) => setTimeout(r, 2000));
      }
      duringOutage = { failures: await metric(c, 'podspan_store_upload_failures_total'), waiting: await metric(c, 'podspan_store_spool_files') };
    });
    burst();
    expect(await stopProcess(fwd)).toBe(0);
    await stopDump(dump, direct, capturedBy(fwd));
    expect(duringOutage.failures).toBeGreaterThan(0);
    expect(duringOutage.waiting).toBeGreaterThan(3);
    await until(async () => (await metric(c, 'podspan_store_spool_files')) === 0, 30_000, 'the spool drained'); // backoff is at most 8 s
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/0 files \(0 bytes\) left in the spool, 0 dropped/);
    const out = path.join(tmp, 'outage-export.pcapng');
    const r = exportCmd(['--store', store('outage'), '--since', new Date(Date.now() - 600_000).toISOString(), '-w', out]);
    expect(r.code).toBe(0);
    expect(frames(out)).toEqual(frames(direct));
    expect(frames(direct).length).toBeGreaterThan(4000);
  }, 120_000);

  it('the spool cap reached while the server is down: the oldest files are dropped, counted exactly; a restart resumes the rest', async () => {
    const c = await collector('cap', 'cap', ['-C', '0.1', '--store-spool-mb', '0.35', '--store-drain-timeout', '0']);
    const fwd = await forwarder(pods[0], [c]);
    await s3.restart(async () => {
      for (let i = 0; i < 8; i++) trafgen(pods[0].ns, 'eth0', 400, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
      // The forwarder stops once the collector has every frame (what the files below hold), not
      // while some may still be in its ring on a loaded machine.
      await until(async () => (await framesWritten(c)) >= 8 * 400, 30_000, 'the collector writing 3,200 frames').catch(async (e: Error) => {
        throw new Error(`${e.message}: the collector wrote ${await framesWritten(c)} frames of ${8 * 400}\nforwarder: ${fwd.stderr()}\ncollector: ${c.stderr()}`);
      });
      expect(await stopProcess(fwd)).toBe(0);
      expect(await stopProcess(c, 'SIGTERM')).toBe(0); // the server still down: what waits stays in --out
    });
    const made = /(\d+) files: (.*)/.exec(c.stderr())![2].split(', ').map((f) => path.basename(f)).sort();
    const dropped = Number(/(\d+) dropped \(spool full\)/.exec(c.stderr())![1]);
    const left = fs.readdirSync(path.join(tmp, 'cap')).filter((f) => f.endsWith('.pcapng')).sort();
    expect(made.length).toBeGreaterThan(6);
    expect(dropped).toBeGreaterThan(0);
    expect(left.length).toBeGreaterThan(0);
    expect(c.stderr().match(/spool full: oldest file deleted without upload/g) ?? []).toHaveLength(dropped);
    // The dropped ones are the oldest; every other file waits in --out.
    expect(left).toEqual(made.slice(dropped));
    // A new collector on the same folder uploads what the last one left.
    const again = await collector('cap', 'cap');
    await until(async () => (await metric(again, 'podspan_store_spool_files')) === 0, 30_000, "the restarted collector's spool drained");
    expect(await metric(again, 'podspan_store_uploaded_files_total')).toBe(left.length);
    expect(await stopProcess(again, 'SIGTERM')).toBe(0);
    const stored = (await keys('cap/')).filter((k) => k.endsWith('.pcapng')).map((k) => path.basename(k).replace(/^[^_]+_/, '')).sort();
    expect(stored).toEqual(left);
  }, 120_000);

  /** A collector (`name` its prefix and folder) that 500 frames reached: its one file is closed, and uploaded, at its stop. */
  async function collectorWithOneFile(name: string, extra: string[]): Promise<CollectorProcess> {
    const c = await collector(name, name, extra);
    const fwd = await forwarder(pods[0], [c]);
    trafgen(pods[0].ns, 'eth0', 500, { payload: 300, pps: 20000 });
    expect(await stopProcess(fwd)).toBe(0);
    return c;
  }

  it('a store that stops answering mid-upload does not hold up shutdown: the upload is aborted after --store-drain-timeout, the file stays for the next start', async () => {
    const c = await collectorWithOneFile('hang', ['--store-drain-timeout', '1']);
    await whileStoreFrozen(async () => {
      const t0 = Date.now();
      expect(await stopProcess(c, 'SIGTERM'), c.stderr()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(8000); // 1 s of drain, then the abort: not the SDK's endless wait
    });
    expect(c.stderr()).toMatch(/store: 0 files \(0 bytes\) uploaded, \d+ failed attempts, 1 files \(\d+ bytes\) left in the spool, 0 dropped/);
    expect(fs.readdirSync(path.join(tmp, 'hang')).filter((f) => f.endsWith('.pcapng'))).toHaveLength(1);
  }, 60_000);

  it('a second signal during the drain: the collector stops uploading at once, exit 0, the file stays in the spool for the next start', async () => {
    const c = await collectorWithOneFile('hurry', ['--store-drain-timeout', '60']);
    // The last file's upload cannot finish: the drain would wait its 60 s.
    await whileStoreFrozen(async () => {
      c.child.kill('SIGTERM');
      await until(() => /stopping: waiting at most 67 s for the agents' streams to end and uploads; signal again to stop waiting/.test(c.stderr()), 10_000, 'the stopping line');
      const t0 = Date.now();
      c.child.kill('SIGINT');
      expect(await c.exited, c.stderr()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(8000); // the abort's own 2 s wait, not the drain's 60 s
    });
    expect(c.stderr()).toMatch(/second signal: cancelling the 0 streams still open, leaving what is not uploaded in the spool/);
    expect(c.stderr()).toMatch(/store: 0 files \(0 bytes\) uploaded, \d+ failed attempts, 1 files \(\d+ bytes\) left in the spool, 0 dropped/);
    expect(fs.readdirSync(path.join(tmp, 'hurry')).filter((f) => f.endsWith('.pcapng'))).toHaveLength(1);
  }, 60_000);

  it('a store that stops answering while the collector runs: the stuck upload fails after --store-timeout and is retried; once it answers the spool drains', async () => {
    const c = await collector('stall', 'stall', ['--store-timeout', '2', '-C', '0.1']); // ~100 kB files: one closes while the store is silent
    const failuresWhileSilent = await whileStoreFrozen(async () => {
      const fwd = await forwarder(pods[0], [c]);
      trafgen(pods[0].ns, 'eth0', 500, { payload: 300, pps: 20000 });
      expect(await stopProcess(fwd)).toBe(0); // a file closed on the way: its upload starts and hangs
      // Without a timeout the request waits for ever, silently: no failure, no retry, no log line.
      await until(async () => (await metric(c, 'podspan_store_upload_failures_total')) >= 1, 30_000, 'a failed upload');
      return metric(c, 'podspan_store_upload_failures_total');
    });
    expect(failuresWhileSilent).toBeGreaterThanOrEqual(1);
    // The log line travels by the collector's stderr pipe, the count by its metrics: either may come first.
    await until(async () => /store: upload failed, retrying with backoff/.test(c.stderr()), 10_000, 'the retry logged');
    await until(async () => (await metric(c, 'podspan_store_spool_files')) === 0, 30_000, 'the spool drained');
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    const summary = /store: (\d+) files \(\d+ bytes\) uploaded, \d+ failed attempts, 0 files \(0 bytes\) left in the spool, 0 dropped/.exec(c.stderr());
    expect(summary, c.stderr()).toBeTruthy();
    expect((await keys('stall/')).filter((k) => k.endsWith('.pcapng'))).toHaveLength(Number(summary![1]));
    expect(Number(summary![1])).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("the agent's pcap target with store: its rotated files are uploaded with an index, export equals tcpdump", async () => {
    const p = pods[1];
    const dir = path.join(tmp, 'agent-files');
    const cfg = path.join(tmp, 'agent-store.yaml');
    fs.writeFileSync(
      cfg,
      [
        'metrics: { listen: "127.0.0.1:0" }',
        'sessions:',
        '  - name: veth',
        `    sources: { interfaces: [${p.host}] }`,
        '    filter: { protocols: [udp] }',
        `    targets: [ { pcap: { dir: ${dir}, rotateMB: 0.1, store: "${store('agent')}" } } ]`,
      ].join('\n'),
    );
    const direct = path.join(tmp, 'agent-direct.pcap');
    const dump = await tcpdump(p, direct);
    const agent = await start([process.execPath, podspanBin, 'agent', '--config', cfg], /running \d+ captures/, { ...s3.env, NODE_NAME: 'node-s' });
    trafgen(p.ns, 'eth0', 1500, { sport: 'dinc(40000, 40063)', payload: 300, pps: 20000 });
    // The files rotated away from are uploaded while the agent runs; the last one when it stops.
    const agentMetrics = { metricsUrl: /metrics on (http:\S+?),? /.exec(agent.stderr())![1] } as CollectorProcess;
    await until(async () => (await metric(agentMetrics, 'podspan_store_uploaded_files_total')) >= 3 && (await metric(agentMetrics, 'podspan_store_spool_files')) === 0, 30_000, "the agent's three uploads, its spool drained");
    expect(await stopProcess(agent, 'SIGTERM')).toBe(0);
    await stopDump(dump, direct, 1500);
    expect(frames(direct)).toHaveLength(1500);
    const captures = (await keys('agent/')).filter((k) => k.endsWith('.pcapng'));
    expect(captures.length).toBeGreaterThan(3); // 100 kB files
    for (const k of captures) expect(k).toMatch(new RegExp(`^agent/\\d{4}/\\d\\d/\\d\\d/\\d\\d/node-s/[^/]+_${p.host}_\\d{5}_\\d+\\.pcapng$`));
    const indexes = await Promise.all(captures.map((k) => getJson(`${k}.index.json`)));
    expect(indexes.reduce((n, x) => n + x.packets, 0)).toBe(1500);
    expect(indexes[0].interfaces[0]).toMatchObject({ name: p.host, node: 'node-s', interface: p.host });
    expect(fs.readdirSync(path.join(dir, 'veth')).filter((f) => f.endsWith('.pcapng'))).toEqual([]); // uploaded: gone
    const out = path.join(tmp, 'agent-export.pcapng');
    expect(exportCmd(['--store', store('agent'), '--since', '-10m', '--node', 'node-s', '-w', out]).code).toBe(0);
    expect(frames(out)).toEqual(frames(direct));
  }, 60_000);

  it('an agent whose store refuses its credentials ends at start-up with one line', () => {
    const cfg = path.join(tmp, 'agent-bad-store.yaml');
    fs.writeFileSync(cfg, ['metrics: { listen: "127.0.0.1:0" }', 'sessions:', '  - name: s', '    sources: { interfaces: [lo] }', `    targets: [ { pcap: { dir: ${tmp}/x, store: "s3://no-such-bucket/p" } } ]`].join('\n'));
    const r = run(process.execPath, [podspanBin, 'agent', '--config', cfg], { env: { ...process.env, ...s3.env }, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('podspan: session s: pcap store s3://no-such-bucket/p: the bucket does not exist');
  });

  it('wrong credentials and a missing bucket: one line, exit 1, before serving', () => {
    const wrong = run(process.execPath, [podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', path.join(tmp, 'bad'), '--store', store('x')], {
      env: { ...process.env, ...s3.env, AWS_SECRET_ACCESS_KEY: 'not-the-secret' },
      timeoutMs: 30_000,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toMatch(/^podspan: --store s3:\/\/podspan\/x: access refused \(HTTP 403\): check the credentials/);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    const missing = run(process.execPath, [podspanBin, 'collector', '--listen', '127.0.0.1:0', '--out', path.join(tmp, 'bad'), '--store', 's3://no-such-bucket/x'], { env: { ...process.env, ...s3.env }, timeoutMs: 30_000 });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('podspan: --store s3://no-such-bucket/x: the bucket does not exist');
  }, 60_000);
});
