// `podspan streams --console -i` live, as `tcpflow -c -i` is used: a real curl against a real HTTP
// server in another network namespace, and the request and the answer appear on standard output
// while the capture still runs (no stop needed to see them), each after its direction's name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { addNamespaces, addVeth, canUseNetns, exitStatus, inNs, killStarted, removeNamespaces, startInNs, stopProcess, track } from '../helpers/netns';
import { podspanBin, run, untilCpuStill } from '../helpers/tools';

const SERVER = `
require('node:http')
  .createServer((req, res) => res.end('answer to ' + req.url + '\\n'))
  .listen(8080, '10.78.0.1', () => process.stderr.write('serving\\n'));
`;

describe.skipIf(!canUseNetns)('podspan streams --console on a live interface', () => {
  const pid = process.pid;
  const [srvNs, cliNs, srvDev, cliDev] = [`sc-s${pid}`, `sc-c${pid}`, `scs${pid}`, `scc${pid}`];
  let tmp: string;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-console-live-'));
    addNamespaces([srvNs, cliNs]);
    addVeth(srvNs, srvDev, cliNs, cliDev);
    inNs(srvNs, ['ip', 'addr', 'add', '10.78.0.1/24', 'dev', srvDev]);
    inNs(cliNs, ['ip', 'addr', 'add', '10.78.0.2/24', 'dev', cliDev]);
  });
  afterEach(() => killStarted());
  afterAll(() => {
    killStarted();
    removeNamespaces([srvNs, cliNs]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('prints a request and its answer as they pass, named by direction, then stops on SIGINT with exit 0', async () => {
    const script = path.join(tmp, 'server.js');
    fs.writeFileSync(script, SERVER);
    await startInNs(srvNs, [process.execPath, script], /serving/);
    const printing = await startInNs(cliNs, [process.execPath, podspanBin, 'streams', '--console', '-i', cliDev, 'tcp port 8080'], /listening on/);
    let out = '';
    printing.child.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));

    const curl = run('ip', ['netns', 'exec', cliNs, 'curl', '-s', 'http://10.78.0.1:8080/console-check']);
    expect(curl.stdout).toBe('answer to /console-check\n');
    // Both directions show up while the capture runs (batches leave within the flush interval).
    const deadline = Date.now() + 10_000;
    while (!out.includes('answer to /console-check') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const client = /^010\.078\.000\.002\.\d{5}-010\.078\.000\.001\.08080: GET \/console-check HTTP\/1\.1\r$/m;
    const server = /^010\.078\.000\.001\.08080-010\.078\.000\.002\.\d{5}: HTTP\/1\.1 200 OK\r$/m;
    expect(out).toMatch(client);
    expect(out).toMatch(server);
    expect(out).toContain('\r\n\r\nanswer to /console-check\n');
    expect(printing.child.exitCode).toBeNull(); // still capturing

    expect(await stopProcess(printing)).toBe(0);
    expect(printing.stderr()).toMatch(/^1 streams, \d+ bytes printed$/m);
    expect(printing.stderr()).not.toMatch(/not printed/);
  });

  it('when standard output is not read, drops what it cannot hold at the native queue and counts it; memory stays bounded', async () => {
    const script = path.join(tmp, 'big-server.js');
    const body = 48 << 20;
    fs.writeFileSync(script, `
const chunk = Buffer.alloc(1 << 20, 0x61);
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-length': ${body} });
  let left = ${body >> 20};
  const more = () => { while (left > 0) { left--; if (!res.write(chunk)) return res.once('drain', more); } res.end(); };
  more();
}).listen(8081, '10.78.0.1', () => process.stderr.write('serving\\n'));
`);
    await startInNs(srvNs, [process.execPath, script], /serving/);
    // Started here, not by startInNs: its standard output must stay unread (a pipe nobody drains).
    // A 64 MiB ring holds the whole 48 MiB response: with 32 MiB, a capture thread kept off the
    // CPU by a loaded machine let the kernel drop the stream's end, whose length no one can count.
    const child = spawn('ip', ['netns', 'exec', cliNs, process.execPath, podspanBin, 'streams', '-C', '-B', '65536', '-i', cliDev, 'tcp port 8081'], { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d));
    const deadline = Date.now() + 10_000;
    while (!err.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(err).toContain('listening on');

    const curl = run('ip', ['netns', 'exec', cliNs, 'curl', '-s', '-o', '/dev/null', '-w', '%{size_download}', 'http://10.78.0.1:8081/big']);
    expect(Number(curl.stdout)).toBe(body);
    // The capture thread may still be behind, the rest of the stream in the kernel's ring: had
    // standard output been read from here on, that rest would print rather than drop (1 run in 5
    // here, and once in CI). Once podspan's CPU time stops moving, it has taken all it can and
    // waits on standard output.
    expect(await untilCpuStill(child.pid!)).toBe(true);
    // The process, its standard output unread: its memory holds the 4 MiB it may queue for
    // stdout and the native queue's 16 batches, not the 48 MiB that passed. Its own memory
    // (RssAnon) measured 38-39 MiB; the 64 MiB ring is counted apart (RssFile).
    // (`ip netns exec` execs the command: the child's PID is podspan's.)
    const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
    expect(mib('RssAnon')).toBeLessThan(80);
    expect(mib('VmRSS')).toBeLessThan(200);

    let out = 0;
    child.stdout!.on('data', (d: Buffer) => (out += d.length));
    const exited = exitStatus(child);
    // At once: stopped from outside, podspan still reads what reached its ring (even when its
    // reader is behind, on a loaded machine) before it counts.
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const printed = Number(/^1 streams, (\d+) bytes printed, (\d+) bytes not printed: standard output did not keep up$/m.exec(err)?.[1]);
    const dropped = Number(/bytes printed, (\d+) bytes not printed/.exec(err)?.[1]);
    expect(dropped, err).toBeGreaterThan(0);
    // Every byte of the stream printed, counted as not printed, or (a kernel drop under load) a gap.
    const missing = Number(/^\d+ gaps, (\d+) bytes missing$/m.exec(err)?.[1]);
    expect(printed + dropped + missing, err).toBeGreaterThanOrEqual(body);
    // Once read, standard output gave what was printed: its bytes and a newline after each piece.
    expect(out).toBeGreaterThan(printed);
    expect(out).toBeLessThan(printed * 1.01);
  });
});
