// The spool's index reads run in its upload thread, at the lowest priority: the native reader
// thread an index read starts is at nice 19, as the upload thread is, while the
// process's main thread (a collector's gRPC streams) keeps its priority. Before, the index was read
// from the main thread: its reader ran at the process's priority, beside ingest. The capture
// reaches the reader through a FIFO held short of its last bytes, so the reader thread is caught
// waiting, not raced; the index it then makes is the one the main thread makes of the same file.
// The spool's stop ends the thread with an index read in progress: the process must go on (the
// addon is built to swallow what a terminating thread's environment can no longer throw; it
// aborted the collector before).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ownThread, threadsWhen } from '../helpers/threads';
import { repoRoot } from '../helpers/tools';

const dist = path.join(repoRoot, 'dist');
const fromDist = createRequire(__filename);
const { indexCaptureFile } = fromDist(path.join(dist, 'storage', 'capture-index.js')) as typeof import('../../src/storage/capture-index');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** The fixture as a file and a FIFO of the same name (the index names its file). */
function fifoBeside(): { file: string; fifo: string; capture: Buffer } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `podspan-index-thread-${process.pid}-`));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const capture = fs.readFileSync(path.join(repoRoot, 'fixtures', 'sample-20.pcapng'));
  fs.mkdirSync(path.join(tmp, 'file'));
  fs.mkdirSync(path.join(tmp, 'fifo'));
  const file = path.join(tmp, 'file', 'node-a.pcapng');
  const fifo = path.join(tmp, 'fifo', 'node-a.pcapng');
  fs.writeFileSync(file, capture);
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  return { file, fifo, capture };
}

/**
 * A child's script: an upload thread `t` reads `file`'s index and prints it (or `error: ...`);
 * `indexed` when done. `raised`: the thread runs at the process's priority from the start.
 */
const indexScript = (file: string, size: number, raised = false) => `
  const { UploadThread } = require(${JSON.stringify(path.join(dist, 'storage', 'upload-thread.js'))});
  const t = new UploadThread({ idleTimeoutMs: 1000, partBytes: 5 << 20, partsInFlight: 1 });
  ${raised ? 't.raise();' : ''}
  const indexed = t.index({ file: ${JSON.stringify(file)}, agent: 'node-a/1', sizeBytes: ${size} })
    .then((i) => console.log(JSON.stringify(i)), (e) => console.log('error: ' + e.message));`;

describe('index reads in the upload thread', () => {
  it('the index reader runs at nice 19, the main thread untouched, and makes the main thread index', async () => {
    const { file, fifo, capture } = fifoBeside();
    const child = spawn(process.execPath, ['-e', `${indexScript(fifo, capture.length)}
      indexed.finally(() => t.close());`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void child.kill());
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('close', r)); // after its output

    // All but the last packet's last bytes: the reader waits for them.
    const writer = fs.createWriteStream(fifo);
    cleanups.push(() => writer.destroy());
    await new Promise<void>((r) => writer.write(capture.subarray(0, capture.length - 16), () => r()));
    const threads = await threadsWhen(child.pid!, (ts) => ts.some((t) => t.comm === 'podspan-capture'));
    const reader = threads.filter((t) => t.comm === 'podspan-capture');
    expect(reader.map((t) => [t.nice, t.policy])).toEqual([[19, ownThread().policy]]); // nice 19, not SCHED_IDLE
    const main = threads.find((t) => t.tid === child.pid)!;
    const own = ownThread(); // what the child started with
    expect([main.nice, main.policy]).toEqual([own.nice, own.policy]);

    writer.end(capture.subarray(capture.length - 16));
    expect(await exited).toBe(0);
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(await indexCaptureFile(file, 'node-a/1', capture.length))));
  });

  it('once closed, a request fails at once and starts no thread again (a stopping spool cannot be held up by one)', async () => {
    const { file } = fifoBeside();
    const script = `
      const { UploadThread } = require(${JSON.stringify(path.join(dist, 'storage', 'upload-thread.js'))});
      const t = new UploadThread({ idleTimeoutMs: 1000, partBytes: 5 << 20, partsInFlight: 1 });
      t.raise(); // its first read at nice 19 took 16-20 s beside two busy processes: not this test's subject
      t.index({ file: ${JSON.stringify(file)}, agent: 'node-a/1', sizeBytes: 1 })
        .then(() => t.close())
        .then(() => t.index({ file: ${JSON.stringify(file)}, agent: 'node-a/1', sizeBytes: 1 }))
        .then(() => console.log('indexed after close'), (e) => console.log('error: ' + e.message));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect([r.status, r.stdout]).toEqual([0, 'error: upload thread closed\n']);
  });

  it('ending the thread while an index read is busy does not abort the process', async () => {
    // The FIFO is fed the fixture's packets over and over, so the reader is busy handing batches
    // over when the thread is ended (as a spool stopped mid-file is). The addon built without
    // swallowing unthrowable exceptions aborted in 7 of 8 runs of these twelve ends. The thread is
    // raised first, as the spool's stop raises it before ending it: at nice 19 beside two busy
    // processes it read the 4 MiB of a round in ~20 s and six rounds outlasted the test.
    const { fifo, capture } = fifoBeside();
    const packets = capture.subarray(firstPacketBlock(capture));
    const MiB = 1 << 20;
    for (let round = 1; round <= 12; round++) {
      const child = spawn(process.execPath, ['-e', `${indexScript(fifo, capture.length, true)}
        process.stdin.on('data', () => t.close().then(() => console.log('closed')));`], { stdio: ['pipe', 'pipe', 'inherit'] });
      cleanups.push(() => void child.kill());
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      let running = true;
      child.on('exit', () => (running = false));
      const exited = new Promise<number | null>((r) => child.on('close', r)); // after its output
      const writer = fs.createWriteStream(fifo);
      cleanups.push(() => writer.destroy());
      writer.on('error', () => {}); // the reader gone: EPIPE
      // Waits for room or for the end; the listener left behind is removed (left, they added up
      // to Node's MaxListenersExceededWarning over the rounds' writes).
      const write = (b: Buffer) =>
        new Promise<void>((r) => {
          if (writer.write(b)) return r();
          const done = () => (writer.off('drain', done), writer.off('close', done), r());
          writer.once('drain', done).once('close', done);
        });
      let written = 0;
      const feeding = (async () => {
        await write(capture);
        // Bounded: 256 MiB at most.
        while (running && !writer.destroyed && written < 256 * MiB) (await write(packets), (written += packets.length));
      })();
      await threadsWhen(child.pid!, (ts) => ts.some((t) => t.comm === 'podspan-capture'));
      while (written < 4 * MiB && running) await new Promise((r) => setTimeout(r, 10));
      child.stdin.end('close\n');
      expect([round, await exited]).toEqual([round, 0]);
      writer.destroy();
      await feeding;
      expect(out).toContain('closed');
      expect(out).toMatch(/^error: upload thread (exited|closed)/m);
    }
  });
});

/** Offset of a pcapng's first Enhanced Packet Block (what follows the section and interface blocks). */
function firstPacketBlock(file: Buffer): number {
  let at = 0;
  while (at + 8 <= file.length && file.readUInt32LE(at) !== 6) at += file.readUInt32LE(at + 4);
  return at;
}
