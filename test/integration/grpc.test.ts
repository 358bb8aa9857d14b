// gRPC forwarding end to end over loopback, with the real collector and real grpc-js: the
// collector's pcapng equals a direct conversion of the same file (tshark), TLS / mutual TLS /
// bearer token accept the right credentials and refuse the wrong ones, and a malformed stream is
// refused without harm to the collector. Live traffic, outages and memory: grpc-live.test.ts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MirrorClient } from '../../src/forward/mirror-service';
import { collected, collector, frames } from '../helpers/grpc-collector';
import { killStarted, stopProcess } from '../helpers/netns';
import { podspanBin, repoRoot, run } from '../helpers/tools';

const fixture = path.join(repoRoot, 'fixtures', 'sample-20.pcapng');
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-grpc-'))));
afterAll(() => {
  killStarted(); // collectors of a test that failed half-way
  fs.rmSync(tmp, { recursive: true, force: true });
});

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
