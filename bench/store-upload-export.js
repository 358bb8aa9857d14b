#!/usr/bin/env node
// Capture storage against a local S3 server (scripts/s3-test-env.sh: Versity Gateway on loopback):
//  1. upload: the collector's upload spool (index read natively + multipart upload in its thread,
//     one file at a time) against the AWS SDK's own multipart upload (lib-storage Upload, same
//     part size and concurrency) of the same files, and the spool's uploader alone (no index, on
//     this thread: multipart-upload.ts against Upload like for like), rounds interleaved, medians;
//  2. export: `podspan export --pod` of one pod (its file found by the index objects) against
//     fetching every object and filtering with mergecap + tshark; then of every pod at once, with
//     its peak RSS against the size written.
// Usage: node bench/store-upload-export.js [FILES=8] [MB=100] [ROUNDS=3]   (build dist/ first)
// Upload CPU: the whole process's user+system CPU (threads included; the S3 server is another
// process) per MB uploaded, each side of the comparison on its own. EXPORT=0: upload only.
// UPLOAD=0: no upload comparison (the files are moved into the spool, uploaded once) and ALL=0:
// no export of every pod; for large sets (100 100: 10 GB stored) where the disk holds one copy
// in the store and one fetched by the baseline, not four.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const repo = path.resolve(__dirname, '..');
const [files, mb, rounds] = [Number(process.argv[2] ?? 8), Number(process.argv[3] ?? 100), Number(process.argv[4] ?? 3)];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-bench-store-'));
const s3dir = path.join(tmp, 's3');
const script = path.join(repo, 'scripts', 's3-test-env.sh');
execFileSync('bash', [script, 'start', s3dir], { stdio: 'ignore' });
for (const line of fs.readFileSync(path.join(s3dir, 'env'), 'utf8').split('\n')) {
  const m = /^export (\w+)=(.*)$/.exec(line);
  if (m) process.env[m[1]] = m[2];
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { native } = require(path.join(repo, 'dist/capture/native'));
const { s3Client } = require(path.join(repo, 'dist/storage/store'));
const { UploadSpool } = require(path.join(repo, 'dist/storage/upload-spool'));
const { MultipartUploader } = require(path.join(repo, 'dist/storage/multipart-upload'));
const { Upload } = require('@aws-sdk/lib-storage');
const { GetObjectCommand, ListObjectsV2Command } = require('@aws-sdk/client-s3');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quietLog = { info() {}, warn() {}, error() {}, debug() {}, child() { return quietLog; } };

// One pcapng per "pod" of about `mb` MB: 1400-byte UDP frames, 1 µs apart, starting now.
function makeFile(file, pod, startNs) {
  const w = new (native().NativeWriter)({ path: file, format: 'pcapng', application: 'bench' });
  w.addInterface({ name: `node-${pod}/shop/pod-${pod}/eth0`, description: `node node-${pod}, pod shop/pod-${pod}, interface eth0, labels app=bench`, linktype: 1, snaplen: 262144 });
  const n = 1000, len = 1400;
  const frames = Buffer.alloc(n * len, 0x41);
  for (let i = 0; i < n; i++) frames.writeUInt16BE(0x0800, i * len + 12);
  const caplen = Buffer.alloc(n * 4), ts = Buffer.alloc(n * 8), source = Buffer.alloc(n * 4), map = Buffer.alloc(4);
  for (let i = 0; i < n; i++) caplen.writeUInt32LE(len, i * 4);
  const batches = Math.ceil((mb * 1e6) / (n * len));
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < n; i++) ts.writeBigUInt64LE(startNs + BigInt((b * n + i) * 1000), i * 8);
    w.write(frames, caplen, caplen, ts, source, n, map);
  }
  w.close();
}

async function main() {
  const client = s3Client();
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  const startNs = BigInt(Date.now() - 60_000) * 1_000_000n;
  for (let i = 0; i < files; i++) makeFile(path.join(src, `pod${i}.pcapng`), i, startNs);
  const bytes = fs.readdirSync(src).reduce((n, f) => n + fs.statSync(path.join(src, f)).size, 0);
  console.log(`${files} files, ${(bytes / 1e6).toFixed(0)} MB in all`);
  const spoolRates = [], sdkRates = [], spoolCpu = [], sdkCpu = [], oursRates = [], oursCpu = [];
  const ours = new MultipartUploader(s3Client(), 16 << 20, 4);
  const cpuMsPerMb = (since) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000 / (bytes / 1e6);
  };
  const compareUploads = process.env.UPLOAD !== '0';
  for (let r = 0; r < (compareUploads ? rounds : 1); r++) {
    if (!compareUploads) {
      const dir = path.join(tmp, 'spool0');
      fs.renameSync(src, dir);
      const spool = new UploadSpool(client, { store: { bucket: 'podspan', prefix: 'spool0' }, dirs: [dir], capBytes: 0, keepLocal: false, uploaderId: 'bench' }, quietLog);
      const t0 = process.hrtime.bigint();
      spool.start();
      while (spool.stats().spoolFiles > 0) await new Promise((res) => setTimeout(res, 100));
      await spool.stop();
      console.log(`spool (index + upload) ${(bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9)).toFixed(0)} MB/s`);
      break;
    }
    // The SDK alone: the same files, same part size and concurrency, one after the other.
    let t0 = process.hrtime.bigint();
    let cpu0 = process.cpuUsage();
    for (const f of fs.readdirSync(src)) {
      const body = fs.createReadStream(path.join(src, f));
      await new Upload({ client, params: { Bucket: 'podspan', Key: `sdk/${r}/${f}`, Body: body }, partSize: 16 << 20, queueSize: 4 }).done();
    }
    sdkRates.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
    sdkCpu.push(cpuMsPerMb(cpu0));
    // The spool's uploader alone, like for like with the SDK's.
    t0 = process.hrtime.bigint();
    cpu0 = process.cpuUsage();
    for (const f of fs.readdirSync(src)) await ours.upload(path.join(src, f), { Bucket: 'podspan', Key: `ours/${r}/${f}` });
    oursRates.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
    oursCpu.push(cpuMsPerMb(cpu0));
    // The spool: copies of the files (it deletes what it uploaded), index + upload each.
    const dir = path.join(tmp, `spool${r}`);
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
    const spool = new UploadSpool(client, { store: { bucket: 'podspan', prefix: `spool${r}` }, dirs: [dir], capBytes: 0, keepLocal: false, uploaderId: 'bench' }, quietLog);
    t0 = process.hrtime.bigint();
    cpu0 = process.cpuUsage();
    spool.start();
    while (spool.stats().spoolFiles > 0) await new Promise((res) => setTimeout(res, 20));
    spoolRates.push(bytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9));
    spoolCpu.push(cpuMsPerMb(cpu0));
    await spool.stop();
    console.log(`round ${r + 1}: SDK ${sdkRates[r].toFixed(0)} MB/s ${sdkCpu[r].toFixed(2)} ms CPU/MB, uploader alone ${oursRates[r].toFixed(0)} MB/s ${oursCpu[r].toFixed(2)} ms CPU/MB, spool (index + upload) ${spoolRates[r].toFixed(0)} MB/s ${spoolCpu[r].toFixed(2)} ms CPU/MB`);
  }
  if (compareUploads) {
    console.log(`upload, median: SDK ${median(sdkRates).toFixed(0)} MB/s, spool ${median(spoolRates).toFixed(0)} MB/s, ratio ${(median(spoolRates) / median(sdkRates)).toFixed(2)}`);
    console.log(`uploader alone, median: ${median(oursRates).toFixed(0)} MB/s, ratio to the SDK ${(median(oursRates) / median(sdkRates)).toFixed(2)}`);
    console.log(`upload CPU per MB, median: SDK ${median(sdkCpu).toFixed(2)} ms, uploader alone ${median(oursCpu).toFixed(2)} ms, spool ${median(spoolCpu).toFixed(2)} ms`);
  }
  if (process.env.EXPORT === '0') return;

  // Export one pod from what round 1 stored, against fetching all and filtering with mergecap + tshark.
  const prefix = 'spool0';
  const exportTimes = [], baselineTimes = [];
  const pod = `pod-${Math.floor(files / 2)}`;
  for (let r = 0; r < rounds; r++) {
    const out = path.join(tmp, 'export.pcapng');
    let t0 = process.hrtime.bigint();
    const e = spawnSync(process.execPath, [path.join(repo, 'bin/podspan'), 'export', '--store', `s3://podspan/${prefix}`, '--since', '-1h', '--pod', pod, '-w', out], { encoding: 'utf8' });
    exportTimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (e.status !== 0) throw new Error(e.stderr);
    const exported = spawnSync('capinfos', ['-c', '-M', out], { encoding: 'utf8' }).stdout.match(/Number of packets:\s+(\d+)/)[1];
    t0 = process.hrtime.bigint();
    const all = path.join(tmp, 'all');
    fs.mkdirSync(all, { recursive: true });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'podspan', Prefix: `${prefix}/` }));
    for (const o of listed.Contents.filter((x) => x.Key.endsWith('.pcapng'))) {
      const body = (await client.send(new GetObjectCommand({ Bucket: 'podspan', Key: o.Key }))).Body;
      await require('node:stream/promises').pipeline(body, fs.createWriteStream(path.join(all, path.basename(o.Key))));
    }
    const fetched = process.hrtime.bigint();
    const merged = path.join(tmp, 'merged.pcapng'), filtered = path.join(tmp, 'filtered.pcapng');
    execFileSync('mergecap', ['-w', merged, ...fs.readdirSync(all).map((f) => path.join(all, f))]);
    const mergedAt = process.hrtime.bigint();
    execFileSync('tshark', ['-r', merged, '-Y', `frame.interface_name == "node-${pod.slice(4)}/shop/${pod}/eth0"`, '-w', filtered], { stdio: 'ignore' });
    const end = process.hrtime.bigint();
    baselineTimes.push(Number(end - t0) / 1e9);
    const phases = `fetch ${(Number(fetched - t0) / 1e9).toFixed(1)} s, mergecap ${(Number(mergedAt - fetched) / 1e9).toFixed(1)} s, tshark ${(Number(end - mergedAt) / 1e9).toFixed(1)} s`;
    const base = spawnSync('capinfos', ['-c', '-M', filtered], { encoding: 'utf8' }).stdout.match(/Number of packets:\s+(\d+)/)[1];
    console.log(`round ${r + 1}: export ${exportTimes[r].toFixed(2)} s (${exported} packets), fetch all + mergecap + tshark ${baselineTimes[r].toFixed(2)} s (${base} packets; ${phases})`);
    fs.rmSync(all, { recursive: true, force: true });
    fs.rmSync(merged, { force: true });
  }
  console.log(`export, median: ${median(exportTimes).toFixed(2)} s vs ${median(baselineTimes).toFixed(2)} s: ${(median(baselineTimes) / median(exportTimes)).toFixed(1)}x faster`);

  // Every pod at once: memory follows the largest object (merged from run files on disk), not the export.
  if (process.env.ALL === '0') return;
  const all = path.join(tmp, 'all.pcapng');
  const e = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, path.join(repo, 'bin/podspan'), 'export', '--store', `s3://podspan/${prefix}`, '--since', '-1h', '--namespace', 'shop', '-w', all], { encoding: 'utf8' });
  if (e.status !== 0) throw new Error(e.stderr);
  const rss = Number(/maxrss_kb=(\d+)/.exec(e.stderr)[1]) / 1024;
  console.log(`export of all ${files} pods: ${(fs.statSync(all).size / 1e6).toFixed(0)} MB written, peak RSS ${rss.toFixed(0)} MiB`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    spawnSync('bash', [script, 'stop', s3dir]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
