// `podspan export` stopped by Ctrl-C or SIGTERM while it fetches from a real S3 server (Versity
// Gateway): a relay holds the capture object's GET, as a slow or stalled store would. Before, the
// signal's default action ended the process at once: no line said what happened and the
// temporary folder of fetched objects stayed in $TMPDIR (as large as the export). Now: one line,
// exit 128+signal, nothing written to -w, the temporary folder removed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3EnvUnavailable, startS3Env, type S3Env } from '../helpers/s3-env';
import { startRelay, type Relay } from '../helpers/s3-relay';
import { podspanBin, repoRoot, until } from '../helpers/tools';

const s3Unavailable = s3EnvUnavailable();
if (s3Unavailable) console.log(`export interruption tests skipped: ${s3Unavailable}`);

const fromDist = createRequire(__filename);
const { UploadSpool } = fromDist(path.join(repoRoot, 'dist', 'storage', 'upload-spool.js')) as typeof import('../../src/storage/upload-spool');
const { s3Client } = fromDist(path.join(repoRoot, 'dist', 'storage', 'store.js')) as typeof import('../../src/storage/store');

describe.skipIf(s3Unavailable)('podspan export interrupted while it fetches', () => {
  let tmp: string;
  let s3: S3Env;
  let relay: Relay;
  const savedEnv = { ...process.env };
  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `podspan-export-intr-${process.pid}-`));
    s3 = await startS3Env();
    relay = await startRelay(() => Number(new URL(s3.env.AWS_ENDPOINT_URL).port));
    Object.assign(process.env, s3.env, { AWS_ENDPOINT_URL: `http://127.0.0.1:${relay.port}` });
    // One capture (the fixture, packets of 2023-11-14) and its index in the store.
    const dir = path.join(tmp, 'spool');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(repoRoot, 'fixtures', 'sample-20.pcapng'), path.join(dir, 'node-a.pcapng'));
    const log = { info() {}, debug() {}, error() {}, warn() {}, child: () => log };
    const spool = new UploadSpool(s3Client(5000), { store: { bucket: s3.bucket, prefix: 'intr' }, dirs: [dir], capBytes: 0, keepLocal: false, uploaderId: 'test' }, log as never);
    spool.start();
    try {
      await until(() => spool.stats().uploadedFiles === 1, 30_000, 'the capture uploaded');
    } finally {
      await spool.stop();
    }
  }, 90_000);
  afterAll(async () => {
    process.env = savedEnv;
    await relay?.close();
    await s3?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: one line, exit ${128 + os.constants.signals[signal]}, nothing written, the fetched objects removed`, async () => {
      const tmpdir = fs.mkdtempSync(path.join(tmp, 'tmpdir-'));
      const out = path.join(tmp, `export-${signal}.pcapng`);
      relay.seen = [];
      relay.onRequest = (r) => (r.method === 'GET' && r.path.endsWith('.pcapng') ? 'hold' : undefined);
      const child = spawn(process.execPath, [podspanBin, 'export', '--store', `s3://${s3.bucket}/intr`, '--since', '2023-11-14T00:00:00Z', '--until', '2023-11-15T00:00:00Z', '-w', out], {
        env: { ...process.env, TMPDIR: tmpdir },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (code, sig) => r([code, sig])));
      try {
        await until(() => relay.seen.some((r) => r.method === 'GET' && r.path.endsWith('.pcapng')), 30_000, 'the capture object asked for (and held)');
        expect(fs.readdirSync(tmpdir).filter((f) => f.startsWith('podspan-export-'))).toHaveLength(1); // its temporary folder, fetching
        child.kill(signal);
        expect(await exited, stderr).toEqual([128 + os.constants.signals[signal], null]);
      } finally {
        child.kill('SIGKILL');
        relay.onRequest = undefined;
        relay.release();
      }
      expect(stderr).toMatch(new RegExp(`^1 of 1 indexed files match; fetching 0\\.0 MB\\npodspan: export interrupted by ${signal}: nothing written to ${out}, what was fetched removed\\n$`));
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(tmpdir)).toEqual([]);
    }, 60_000);
  }
});
