// gRPC forwarding end to end over loopback, with the real collector (grpc-js) and the agent's own
// HTTP/2 stream: the collector's pcapng equals a direct conversion of the same file (tshark) and a
// file byte for byte over many batches, one stream or two; TLS sessions are resumed; TLS / mutual
// TLS / bearer token accept the right credentials and refuse the wrong ones, and a malformed
// stream is refused without harm to the collector. Live traffic, outages and memory:
// grpc-live.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseForwardTarget, type GrpcTarget } from '../../src/config/forward-options';
import { mirrorStreamTarget } from '../../src/forward/mirror-target';
import { MirrorClient } from '../../src/forward/mirror-service';
import { MirrorConnector } from '../../src/forward/mirror-stream';
import { collected, collector, frames } from '../helpers/grpc-collector';
import { exitStatus, killStarted, stopProcess, track } from '../helpers/netns';
import { podspanBin, repoRoot, run } from '../helpers/tools';

const fixture = path.join(repoRoot, 'fixtures', 'sample-20.pcapng');
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-grpc-'))));
afterAll(() => {
  killStarted(); // collectors of a test that failed half-way
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A pcap of `n` frames of `size` bytes, each filled with its own number (big-endian uint32s). */
function numberedPcap(file: string, n: number, size: number): void {
  const per = 16 + size;
  const data = Buffer.alloc(24 + n * per);
  data.writeUInt32LE(0xa1b2c3d4, 0);
  data.writeUInt16LE(2, 4);
  data.writeUInt16LE(4, 6);
  data.writeUInt32LE(65535, 16);
  data.writeUInt32LE(1, 20);
  for (let i = 0; i < n; i++) {
    const o = 24 + i * per;
    data.writeUInt32LE(1_700_000_000 + Math.floor(i / 1000), o);
    data.writeUInt32LE((i % 1000) * 1000, o + 4);
    data.writeUInt32LE(size, o + 8);
    data.writeUInt32LE(size, o + 12);
    for (let k = 0; k < size; k += 4) data.writeUInt32BE(i, o + 16 + k);
    data.writeUInt16BE(0x88b5, o + 16 + 12); // a local EtherType: the rest is data
  }
  fs.writeFileSync(file, data);
}

/** A capture file's records (timestamps, lengths, bytes) as Wireshark reads and writes them (editcap to pcap). */
function records(f: string): Buffer {
  const out = `${f}.as.pcap`;
  expect(run('editcap', ['-F', 'pcap', f, out]).code).toBe(0);
  const r = fs.readFileSync(out).subarray(24);
  fs.rmSync(out);
  return r;
}

/** podspan capture -r FILE forwarding to `urls`; its exit code and stderr. */
function forwardFile(urls: string[], file = fixture) {
  return run(process.execPath, [podspanBin, 'capture', '-r', file, ...urls.flatMap((u) => ['--forward', u])], { timeoutMs: 60_000 });
}

describe('gRPC forwarding from a file', () => {
  it('delivers every frame; the collector file equals a direct conversion, named after node and interface', async () => {
    const out = path.join(tmp, 'plain');
    const c = await collector(['--listen', '127.0.0.1:0', '--out', out, '--metrics-listen', '127.0.0.1:0']);
    const r = forwardFile([`grpc://127.0.0.1:${c.port}`]);
    expect(r.stderr).toMatch(/: 20 frames delivered, 0 dropped \(queue full\), 0 dropped \(not acknowledged: collector unreachable or stream lost\)/);
    while (!/metrics on/.test(c.stderr())) await new Promise((res) => setTimeout(res, 20));
    const metricsUrl = /metrics on (http:\S+)/.exec(c.stderr())![1];
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(new RegExp(`podspan_collector_frames_total\\{agent="${os.hostname()}/\\d+"\\} 20`));
    expect(metrics).toMatch(/podspan_collector_batches_total 1/);
    expect((await fetch(metricsUrl.replace('/metrics', '/readyz'))).status).toBe(200);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toContain('1 agents, 1 streams, 1 batches, 20 frames written');
    const direct = path.join(tmp, 'direct.pcapng');
    expect(run(process.execPath, [podspanBin, 'capture', '-r', fixture, '-w', direct]).code).toBe(0);
    expect(frames(collected(out))).toEqual(frames([direct]));
    const names = run('tshark', ['-r', collected(out)[0], '-T', 'fields', '-e', 'frame.interface_name']).stdout.trim().split('\n');
    expect(new Set(names)).toEqual(new Set([`${os.hostname()}/if0`]));
  });
});

describe('gRPC security', () => {
  let pki: string;
  beforeAll(() => {
    pki = path.join(tmp, 'pki');
    fs.mkdirSync(pki);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
    for (const ca of ['ca', 'other-ca']) {
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.pem`);
    }
    fs.writeFileSync(path.join(pki, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    for (const [name, ca] of [['server', 'ca'], ['client', 'ca'], ['rogue', 'other-ca']]) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', `${name}.pem`);
    }
    fs.writeFileSync(path.join(pki, 'token'), 's3cret\n');
    fs.writeFileSync(path.join(pki, 'wrong-token'), 'guess\n');
  });
  const p = (f: string) => path.join(pki, f);

  it('TLS: the right CA connects, another CA does not', async () => {
    const c = await collector(['--listen', '127.0.0.1:0', '--out', path.join(tmp, 'tls'), '--tls-cert', p('server.pem'), '--tls-key', p('server.key')]);
    expect(c.stderr()).toContain('(TLS)');
    expect(forwardFile([`grpc://127.0.0.1:${c.port}?ca=${p('ca.pem')}`]).stderr).toMatch(/20 frames delivered/);
    const wrong = forwardFile([`grpc://127.0.0.1:${c.port}?ca=${p('other-ca.pem')}`]);
    // One readable line (no JSON log lines) and a failed exit: nothing reached the collector.
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`^podspan: grpc://127\\.0\\.0\\.1:${c.port}\\?ca=\\S+: never connected: \\S`, 'm'));
    expect(wrong.stderr).not.toContain('{"level"');
    expect(wrong.stderr).toMatch(/0 frames delivered/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toContain('20 frames written');
  }, 30_000);

  it('many batches, plaintext, TLS, and TLS over 2 streams: the collector holds every frame byte for byte (message buffers written again)', async () => {
    // 40,000 frames of 1400 bytes, each filled with its own number: ~55 messages of 1 MiB, so the
    // agent writes messages into buffers of ones already sent; a buffer reused before HTTP/2 had
    // written it out would show as frames of a later batch in an earlier one.
    const file = path.join(tmp, 'numbered.pcap');
    const n = 40_000, size = 1400, per = 16 + size;
    numberedPcap(file, n, size);
    // Batches of two streams may be written in either order: then the same records, sorted.
    const sorted = (b: Buffer) => Buffer.concat(Array.from({ length: b.length / per }, (_, i) => b.subarray(i * per, (i + 1) * per)).sort(Buffer.compare));
    const expected = records(file);
    for (const mode of ['plain', 'tls', 'tls, 2 streams']) {
      const out = path.join(tmp, `numbered-${mode.replace(/\W+/g, '-')}`);
      const tls = mode !== 'plain';
      const c = await collector(['--listen', '127.0.0.1:0', '--out', out, ...(tls ? ['--tls-cert', p('server.pem'), '--tls-key', p('server.key')] : [])]);
      const url = `grpc://127.0.0.1:${c.port}${tls ? `?ca=${p('ca.pem')}` : ''}${mode.endsWith('2 streams') ? '&streams=2' : ''}`;
      expect(forwardFile([url], file).stderr).toMatch(new RegExp(`: ${n} frames delivered, 0 dropped \\(queue full\\), 0 dropped`));
      expect(await stopProcess(c, 'SIGTERM')).toBe(0);
      expect(c.stderr()).toContain(`${n} frames written`);
      const [written] = collected(out);
      expect(run('capinfos', ['-M', '-c', written]).stdout).toMatch(new RegExp(`Number of packets:\\s+${n}\\b`));
      if (mode.endsWith('2 streams')) {
        expect(c.stderr()).toContain('1 agents, 2 streams');
        expect(sorted(records(written)).equals(sorted(expected)), mode).toBe(true);
      } else expect(records(written).equals(expected), mode).toBe(true);
    }
  }, 90_000);

  it('TLS, the collector stopped mid-run and started again: every frame delivered once, intact, or counted as lost; none twice', async () => {
    // 60,000 numbered 1400-byte frames (84 MB): far more than the agent holds while the collector
    // is gone (its 1 MiB queue, the capture's batches, HTTP/2 windows, socket buffers), so the file
    // is still being read when the collector stops and the reader waits for the restart.
    const file = path.join(tmp, 'restart.pcap');
    const n = 60_000, size = 1400, per = 16 + size;
    numberedPcap(file, n, size);
    const out = path.join(tmp, 'restart');
    const serve = ['--listen', '127.0.0.1:0', '--out', out, '--tls-cert', p('server.pem'), '--tls-key', p('server.key')];
    let c = await collector(serve);
    const port = c.port;
    const agent = track(spawn(process.execPath, [podspanBin, 'capture', '-r', file, '--forward', `grpc://127.0.0.1:${port}?ca=${p('ca.pem')}&queue=${1 << 20}&retry-max-ms=500`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PODSPAN_LOG_LEVEL: 'info' },
    }));
    let err = '';
    agent.stderr!.on('data', (d) => (err += d));
    const agentExit = exitStatus(agent);
    while (!/collector stream open/.test(err)) {
      expect(agent.exitCode, err).toBeNull();
      await new Promise((r) => setTimeout(r, 5));
    }
    c.child.kill('SIGTERM'); // at once: it ends the stream, acknowledging only what it wrote
    expect(await c.exited).toBe(0);
    c = await collector(serve.map((a) => (a === '127.0.0.1:0' ? `127.0.0.1:${port}` : a)));
    expect(await agentExit, err).toBe(0);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);

    const m = /(\d+) frames delivered, (\d+) dropped \(queue full\), (\d+) dropped \(not acknowledged: collector unreachable or stream lost\), (\d+) reconnects/.exec(err)!;
    expect(m, err).not.toBeNull();
    const [delivered, queueFull, lost, reconnects] = m.slice(1).map(Number);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(queueFull).toBe(0); // a file waits for room
    expect(delivered + lost).toBe(n);
    expect(c.stderr()).toContain('1 agents, 1 streams'); // the second collector had the rest
    const expected = fs.readFileSync(file).subarray(24);
    const seen = new Set<number>();
    for (const f of collected(out)) {
      const r = records(f);
      expect(r.length % per).toBe(0);
      for (let at = 0; at < r.length; at += per) {
        const i = r.readUInt32BE(at + 16);
        expect(seen.has(i), `frame ${i} twice`).toBe(false);
        seen.add(i);
        expect(r.subarray(at, at + per).equals(expected.subarray(i * per, (i + 1) * per)), `frame ${i}`).toBe(true);
      }
    }
    expect(seen.size).toBe(delivered); // what was not written is exactly what the agent counted lost
  }, 120_000);

  it('TLS: a new connection to the same collector resumes the session (no full handshake)', async () => {
    const c = await collector(['--listen', '127.0.0.1:0', '--out', path.join(tmp, 'resume'), '--tls-cert', p('server.pem'), '--tls-key', p('server.key')]);
    const connector = new MirrorConnector(mirrorStreamTarget(parseForwardTarget(`grpc://127.0.0.1:${c.port}?ca=${p('ca.pem')}`) as GrpcTarget));
    const resumed: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const stream = connector.open();
      await new Promise((resolve, reject) => {
        stream.on('metadata', resolve);
        stream.on('error', reject);
      });
      resumed.push(stream.tlsResumed);
      stream.cancel();
    }
    expect(resumed).toEqual([false, true, true]);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
  }, 30_000);

  it('mutual TLS: a client certificate from the CA connects, none or a rogue one does not', async () => {
    const c = await collector(['--listen', '127.0.0.1:0', '--out', path.join(tmp, 'mtls'), '--tls-cert', p('server.pem'), '--tls-key', p('server.key'), '--client-ca', p('ca.pem')]);
    expect(c.stderr()).toContain('(mutual TLS)');
    const base = `grpc://127.0.0.1:${c.port}?ca=${p('ca.pem')}`;
    expect(forwardFile([`${base}&cert=${p('client.pem')}&key=${p('client.key')}`]).stderr).toMatch(/20 frames delivered/);
    expect(forwardFile([base]).stderr).toMatch(/0 frames delivered/);
    expect(forwardFile([`${base}&cert=${p('rogue.pem')}&key=${p('rogue.key')}`]).stderr).toMatch(/0 frames delivered/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toContain('20 frames written');
  }, 30_000);

  it('a wrong bearer token is refused with UNAUTHENTICATED and logged (plaintext, allowed by --insecure)', async () => {
    const c = await collector(['--listen', '127.0.0.1:0', '--out', path.join(tmp, 'token'), '--token-file', p('token'), '--insecure']);
    expect(forwardFile([`grpc://127.0.0.1:${c.port}?token-file=${p('token')}&insecure=1`]).stderr).toMatch(/20 frames delivered/);
    expect(forwardFile([`grpc://127.0.0.1:${c.port}?token-file=${p('wrong-token')}&insecure=1`]).stderr).toMatch(/0 frames delivered/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/stream refused: missing or wrong bearer token/);
    expect(c.stderr()).toMatch(/[1-9]\d* streams refused \(token\)/);
    expect(c.stderr()).toContain('20 frames written');
  }, 30_000);

  it('a malformed batch ends its stream with INVALID_ARGUMENT; the collector carries on', async () => {
    const out = path.join(tmp, 'malformed');
    const c = await collector(['--listen', '127.0.0.1:0', '--out', out]);
    const client = new MirrorClient(`127.0.0.1:${c.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      stream(): grpc.ClientDuplexStream<Buffer, unknown>;
    };
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.stream();
      call.on('status', resolve);
      call.on('error', () => {});
      call.on('data', () => {});
      call.write(Buffer.from([0x2a, 0x04, 1, 0, 0, 0, 0x12, 0x01])); // caplen [1], then a frames field cut short
    });
    client.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toMatch(/malformed batch/);
    expect(forwardFile([`grpc://127.0.0.1:${c.port}`]).stderr).toMatch(/20 frames delivered/);
    expect(await stopProcess(c, 'SIGTERM')).toBe(0);
    expect(c.stderr()).toMatch(/stream refused: malformed batch/);
    expect(run('capinfos', ['-c', ...collected(out)]).stdout).toMatch(/Number of packets:\s+20/);
  }, 30_000);
});
