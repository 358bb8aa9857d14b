// The upload spool: closed capture files (and analytics JSON lines) wait in the collector's folder
// until their upload is confirmed, then are deleted (or, with keepLocal, noted as uploaded). One
// upload at a time, oldest first, multipart (multipart-upload.ts, in a thread of its own), the
// pcapng's index object put after it (an index therefore always names an object that exists). A
// failed upload is retried with exponential backoff, the file staying at the head (its parts
// already stored are not sent again). The spool's bytes are capped: past the
// cap the oldest waiting files are deleted, counted and logged. A restart finds the files still
// in the folder and resumes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand, type S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger';
import type { CaptureIndex } from './capture-index';
import { LoopSampler } from './ingest-gate';
import { describeS3Error, objectKey, STORE_IDLE_TIMEOUT_S, type StoreOptions } from './store';
import { UploadThread } from './upload-thread';

export interface SpoolOptions {
  store: StoreOptions;
  /** The folders the files are written in (the collector's --out, the agent's session folders): a restart resumes what they hold. */
  dirs: string[];
  /** Bytes of closed files waiting at most; beyond, the oldest waiting are deleted (0: no cap). */
  capBytes: number;
  keepLocal: boolean;
  /** Backoff between attempts at one file: doubles from minMs to maxMs. */
  backoff?: { minMs: number; maxMs: number };
  partBytes?: number;
  /** The upload thread's client: a request idle this long fails (s3Client's idleTimeoutMs). */
  idleTimeoutMs?: number;
  /**
   * Starts every object's file name: two collectors (or two runs of one) may write files of the
   * same name in the same second, and one object must never replace another.
   */
  uploaderId: string;
}

/** Names of uploaded files kept with keepLocal, one per line, so a restart does not upload them again. */
export const UPLOADED_JOURNAL = '.podspan-uploaded';
const SPOOLED = /\.(pcapng|jsonl)$/;
/** How long stop() waits for the store to confirm the abort of an unfinished multipart upload. */
export const ABORT_WAIT_MS = 2000;

interface Entry {
  file: string;
  agent?: string;
  size: number;
  attempts: number;
  placed?: { key: string; index?: CaptureIndex };
  /** Its index being read while the file before it uploads. */
  placing?: Promise<{ key: string; index?: CaptureIndex } | undefined>;
  /** Deleted by the cap while being uploaded. */
  dropped?: boolean;
}

export interface SpoolStats {
  uploadedFiles: number;
  uploadedBytes: number;
  failures: number;
  droppedFiles: number;
  droppedBytes: number;
  spoolFiles: number;
  spoolBytes: number;
  /** Milliseconds parts waited while ingest's thread was busy and short of CPU (ingest-gate.ts), over the lanes. */
  heldMs: number;
  /** Parts waiting for it now. */
  heldParts: number;
}

/** The agent id's readable part from a collector file name: STEM-HASH_RUN[-N].pcapng → STEM. */
function agentFromName(file: string): string {
  return /^(.*)-[0-9a-f]{12}_/.exec(path.basename(file))?.[1] ?? 'unknown';
}

/** HOST-RANDOM: this process's uploads (the host name: a pod's name in Kubernetes). */
export function uploaderId(): string {
  return `${os.hostname().replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 63)}-${randomBytes(3).toString('hex')}`;
}

/** An agent id is NODE/PID: its node. */
const nodeOf = (agent: string) => agent.split('/')[0];

/** Uploads closed files; owns `client` (stop() destroys it). */
export class UploadSpool {
  private readonly queue: Entry[] = [];
  private inFlight?: Entry;
  /** The multipart uploads and index reads, off the event loop. */
  private readonly thread: UploadThread;
  private readonly uploaded = new Set<string>();
  /** BASE (file without extension) → node and hour of its pcapng, for the JSON lines beside it. */
  private readonly placed = new Map<string, { node: string; hourMs: number }>();
  private readonly s: Omit<SpoolStats, 'heldMs' | 'heldParts'> = { uploadedFiles: 0, uploadedBytes: 0, failures: 0, droppedFiles: 0, droppedBytes: 0, spoolFiles: 0, spoolBytes: 0 };
  /** Holds the uploads while the main thread (the capture path) is busy and short of CPU. */
  private readonly sampler: LoopSampler;
  private heldCounted = 0;
  private wake?: () => void;
  /**
   * stop() abandoned a request in flight (a store that stopped answering). The upload thread ends
   * with its requests and an index put on `client` is aborted, but should a socket of it stay and
   * keep the process alive, the command ends the process itself once its files are closed and its
   * summary written.
   */
  abandoned = false;
  /** Ends an index put in progress when the drain is over (stop() waits for the loop, and the loop for the put). */
  private readonly indexPuts = new AbortController();
  private running?: Promise<void>;
  private stopping = false;
  private hurried = false;
  private lastError = '';
  private readonly metrics?: SpoolMetrics;
  /** Files queued, so one handed over twice (resumed from its folder and closed by a capture) uploads once. */
  private readonly queued = new Set<string>();
  private readonly resumedDirs = new Set<string>();

  constructor(
    private readonly client: S3Client,
    private readonly opt: SpoolOptions,
    private readonly log: Logger,
    registry?: Registry,
  ) {
    this.thread = new UploadThread({ idleTimeoutMs: opt.idleTimeoutMs ?? STORE_IDLE_TIMEOUT_S * 1000, partBytes: opt.partBytes ?? 16 << 20, partsInFlight: 4 });
    this.sampler = new LoopSampler(this.thread.gate, () => ({ bytes: this.s.spoolBytes, capBytes: opt.capBytes }), () => this.countHeld());
    this.metrics = registry && spoolMetrics(registry);
    this.metrics?.spools.add(this);
  }

  stats(): SpoolStats {
    return { ...this.s, heldMs: this.thread.heldMs(), heldParts: this.thread.partsWaiting() };
  }

  private countHeld(): void {
    const held = this.thread.heldMs();
    if (held > this.heldCounted) this.metrics?.held.inc((held - this.heldCounted) / 1000);
    this.heldCounted = held;
  }

  /** Takes the files a previous run left in the folders (oldest first), then uploads in the background. */
  start(): void {
    this.resume(this.opt.dirs);
    this.thread.warmUp();
    this.sampler.start();
    this.running = this.loop();
  }

  /**
   * Takes the files left in `dirs` by an earlier run (oldest first), each folder once in the
   * spool's life: called before anything writes there again, so every file found is closed.
   */
  resume(dirs: string[]): void {
    const left: { file: string; mtimeMs: number }[] = [];
    for (const dir of dirs) {
      if (this.resumedDirs.has(dir)) continue;
      this.resumedDirs.add(dir);
      if (!fs.existsSync(dir)) continue;
      const journal = path.join(dir, UPLOADED_JOURNAL);
      if (fs.existsSync(journal)) for (const name of fs.readFileSync(journal, 'utf8').split('\n')) if (name) this.uploaded.add(path.join(dir, name));
      for (const n of fs.readdirSync(dir)) {
        const file = path.join(dir, n);
        if (!SPOOLED.test(n) || this.uploaded.has(file)) continue;
        const st = fs.statSync(file);
        if (st.isFile()) left.push({ file, mtimeMs: st.mtimeMs });
      }
    }
    left.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.file.endsWith('.pcapng') ? -1 : 1));
    const before = this.s.spoolBytes;
    for (const { file } of left) this.add(file);
    if (left.length) this.log.info({ files: left.length, bytes: this.s.spoolBytes - before }, 'store: resuming the spool left by an earlier run');
  }

  /** A closed file to upload (its agent when known). */
  add(file: string, agent?: string): void {
    if (this.uploaded.has(file) || this.queued.has(file)) return;
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return; // gone already (a -W ring deleted it)
    }
    this.queue.push({ file, agent, size, attempts: 0 });
    this.queued.add(file);
    this.s.spoolFiles++;
    this.s.spoolBytes += size;
    this.enforceCap();
    this.wake?.();
  }

  /** stop() uploads no more than what is in progress: the rest waits in the folders for the next run. */
  hurry(): void {
    this.hurried = true;
  }

  /**
   * Uploads on for at most drainMs (while the store answers), then stops: an upload still in
   * progress is aborted (its file stays). All of it at the process's priority (called once ingest
   * has ended). What is left waits in the folders for the next run.
   */
  async stop(drainMs = 0): Promise<void> {
    const deadline = Date.now() + drainMs;
    // What is left (the drain, the abort of an unfinished upload, the thread's end) is bounded, and
    // the capture path the thread stepped back for has ended: at nice 19 on a busy machine the
    // abort did not reach the store within its 2 s, leaving the upload's parts behind. Nor do
    // parts wait for the loop any more.
    this.sampler.stop();
    this.countHeld();
    this.thread.raise();
    while (drainMs > 0 && this.queue.length && Date.now() < deadline && !this.lastError && !this.hurried) await sleep(50);
    this.stopping = true;
    if (this.inFlight) this.abandoned = true;
    this.indexPuts.abort(); // a store that stopped answering must not hold the loop, and with it stop()
    const aborted = this.thread.abort().catch(() => false);
    this.wake?.();
    // The multipart upload left by the one in progress is removed from the store, if it answers soon.
    let timer: NodeJS.Timeout | undefined;
    const clean = await Promise.race([aborted, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ABORT_WAIT_MS)))]);
    clearTimeout(timer);
    if (!clean) this.log.warn({}, 'store: an unfinished multipart upload could not be aborted (the store did not answer): a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes its parts');
    // Closing fails what the thread still owes (an upload or index read it had no CPU for), so
    // the loop ends without waiting for it.
    await this.thread.close();
    await this.running;
    this.metrics?.spools.delete(this);
    this.client.destroy(); // idle connections; one abandoned in flight stays (see abandoned)
  }

  // Past the cap, the oldest waiting files are deleted and counted; the oldest may be the one
  // being uploaded: its upload is aborted (nothing of it stays in the store).
  private enforceCap(): void {
    const cap = this.opt.capBytes;
    while (cap && this.s.spoolBytes > cap && this.queue.length) {
      const e = this.queue.shift()!;
      if (e === this.inFlight) {
        e.dropped = true;
        void this.thread.abort().catch(() => undefined); // not confirmed: tried again before the next upload
      }
      this.leave(e);
      fs.rmSync(e.file, { force: true });
      this.s.droppedFiles++;
      this.s.droppedBytes += e.size;
      this.metrics?.dropped.inc();
      this.metrics?.droppedBytes.inc(e.size);
      this.log.warn({ file: e.file, bytes: e.size, capBytes: cap, dropped: this.s.droppedFiles }, 'store: spool full: oldest file deleted without upload');
    }
  }

  // The oldest file stays at the head of the queue while it is uploaded (so the cap can drop it).
  private async loop(): Promise<void> {
    while (!this.stopping) {
      const e = this.queue[0];
      if (!e) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      this.inFlight = e;
      try {
        await this.upload(e);
        this.lastError = '';
        if (!e.dropped) {
          this.queue.shift();
          this.done(e);
        }
      } catch (err) {
        if (e.dropped || this.stopping) continue; // deleted by the cap meanwhile (counted there), or aborted by stop()
        if (!fs.existsSync(e.file)) {
          // Deleted by someone else (an operator, another spool resuming the folder): nothing left to upload.
          this.queue.shift();
          this.leave(e);
          this.log.warn({ file: e.file }, 'store: file gone before its upload: skipped');
          continue;
        }
        e.attempts++;
        this.s.failures++;
        this.metrics?.failures.inc();
        const reason = describeS3Error(err);
        if (reason !== this.lastError) this.log.warn({ file: e.file, attempts: e.attempts, err: reason }, 'store: upload failed, retrying with backoff');
        this.lastError = reason;
        await this.backoff(e.attempts);
      } finally {
        this.inFlight = undefined;
      }
    }
  }

  private async backoff(attempts: number): Promise<void> {
    const { minMs, maxMs } = this.opt.backoff ?? { minMs: 500, maxMs: 8000 };
    const ms = Math.min(maxMs, minMs * 2 ** Math.min(attempts - 1, 20));
    await new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        if (this.stopping) (clearTimeout(t), r());
      };
    });
    this.wake = undefined;
  }

  // Where a file goes, and its index: worked out once (a retry uploads to the same key).
  private async place(e: Entry): Promise<{ key: string; index?: CaptureIndex }> {
    const name = path.basename(e.file);
    const agent = e.agent ?? agentFromName(e.file);
    let index: CaptureIndex | undefined;
    let place: { node: string; hourMs: number };
    if (e.file.endsWith('.pcapng')) {
      index = await this.thread.index({ file: e.file, agent, sizeBytes: e.size }).catch((err: Error) => {
        if (this.stopping) throw err; // the thread closed by stop(): the file waits for the next start
        // A damaged file is stored all the same (found by its key, not by export's index search).
        this.log.warn({ file: e.file, err: err.message }, 'store: no index for this file');
        return undefined;
      });
      const firstMs = index?.firstNs ? Number(BigInt(index.firstNs) / 1_000_000n) : fs.statSync(e.file).mtimeMs;
      place = { node: index?.node ?? nodeOf(agent), hourMs: firstMs };
      // Keyed by the name the writer was given: a rotating pcapng is BASE_NNNNN_STAMP.pcapng, its
      // records BASE.KIND[.N].jsonl.
      this.placed.set(e.file.replace(/\.pcapng$/, '').replace(/_\d{5,}_\d{14}$/, ''), place);
    } else {
      // BASE.KIND[.N].jsonl goes beside BASE.pcapng's object when known.
      const pcapBase = e.file.replace(/\.[a-z]+(\.\d+)?\.jsonl$/, '');
      place = this.placed.get(pcapBase) ?? { node: nodeOf(agent), hourMs: fs.statSync(e.file).mtimeMs };
    }
    const key = objectKey(this.opt.store.prefix, place.hourMs, place.node, `${this.opt.uploaderId}_${name}`);
    if (index) index.object = key;
    return { key, index };
  }

  private async upload(e: Entry): Promise<void> {
    e.placed ??= (await e.placing) ?? (await this.place(e));
    // The next file's index is read (in the upload thread) while this one uploads.
    const next = this.queue[1];
    if (next && !next.placed && !next.placing) {
      next.placing = this.place(next).catch(() => {
        next.placing = undefined; // worked out again when its turn comes
        return undefined;
      });
    }
    const { key, index } = e.placed;
    const isPcap = e.file.endsWith('.pcapng');
    const sse: Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'> = this.opt.store.sse
      ? { ServerSideEncryption: this.opt.store.sse.algorithm, SSEKMSKeyId: this.opt.store.sse.kmsKeyId }
      : {};
    await this.thread.upload({
      file: e.file,
      params: { Bucket: this.opt.store.bucket, Key: key, ContentType: isPcap ? 'application/vnd.tcpdump.pcap' : 'application/x-ndjson', ...sse },
    });
    if (index) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.opt.store.bucket, Key: `${key}.index.json`, Body: JSON.stringify(index), ContentType: 'application/json', ...sse }),
        { abortSignal: this.indexPuts.signal },
      );
    }
  }

  // Confirmed: the file leaves the spool (deleted, or noted as uploaded with keepLocal).
  private done(e: Entry): void {
    const name = path.basename(e.file);
    if (this.opt.keepLocal) {
      fs.appendFileSync(path.join(path.dirname(e.file), UPLOADED_JOURNAL), `${name}\n`);
      this.uploaded.add(e.file);
    } else {
      fs.rmSync(e.file, { force: true });
    }
    this.leave(e);
    this.s.uploadedFiles++;
    this.s.uploadedBytes += e.size;
    this.metrics?.files.inc();
    this.metrics?.bytes.inc(e.size);
    this.log.debug?.({ file: e.file }, 'store: uploaded');
  }

  private leave(e: Entry): void {
    this.queued.delete(e.file);
    this.s.spoolFiles--;
    this.s.spoolBytes -= e.size;
  }
}

/**
 * The store metrics of one registry, shared by its spools (an agent starts and stops one per store
 * as sessions come and go): counters go on across spools, gauges sum the live ones.
 */
interface SpoolMetrics extends Record<'files' | 'bytes' | 'failures' | 'dropped' | 'droppedBytes' | 'held', Counter> {
  spools: Set<UploadSpool>;
}
const metricsByRegistry = new WeakMap<Registry, SpoolMetrics>();

function spoolMetrics(registry: Registry): SpoolMetrics {
  let m = metricsByRegistry.get(registry);
  if (m) return m;
  const registers = [registry];
  const spools = new Set<UploadSpool>();
  const sum = (k: 'spoolBytes' | 'spoolFiles') => [...spools].reduce((n, sp) => n + sp.stats()[k], 0);
  m = {
    spools,
    files: new Counter({ name: 'podspan_store_uploaded_files_total', help: 'files uploaded to the object store (confirmed)', registers }),
    bytes: new Counter({ name: 'podspan_store_uploaded_bytes_total', help: 'bytes of files uploaded to the object store', registers }),
    failures: new Counter({ name: 'podspan_store_upload_failures_total', help: 'upload attempts that failed (each retried with backoff)', registers }),
    dropped: new Counter({ name: 'podspan_store_spool_dropped_files_total', help: 'files deleted unuploaded because the spool reached its cap (oldest first)', registers }),
    droppedBytes: new Counter({ name: 'podspan_store_spool_dropped_bytes_total', help: 'bytes of files deleted unuploaded because the spool reached its cap', registers }),
    held: new Counter({ name: 'podspan_store_upload_held_seconds_total', help: 'seconds upload parts waited while the main thread (ingest) was busy and waiting for a CPU, summed over parallel parts', registers }),
  };
  new Gauge({ name: 'podspan_store_spool_bytes', help: 'bytes of closed files waiting for upload', registers, collect(): void { this.set(sum('spoolBytes')); } });
  new Gauge({ name: 'podspan_store_spool_files', help: 'closed files waiting for upload', registers, collect(): void { this.set(sum('spoolFiles')); } });
  metricsByRegistry.set(registry, m);
  return m;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
