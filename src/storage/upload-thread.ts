// The spool's multipart uploads (multipart-upload.ts) and index reads (capture-index.ts), run in
// a worker thread of the lowest CPU priority. On the main thread the AWS SDK's upload helper held
// the event loop ~90 ms per 16 MiB part and cost ~5 ms of CPU per MB: the collector's gRPC
// streams then waited, and its ingest fell (BENCHMARKS.md, "The collector's ingest while it
// uploads"). In the worker the loop stays free, and at nice 19 the uploads take only the CPU the
// capture path leaves (and while the main thread is busy and short of CPU, none: ingest-gate.ts);
// the parts are read with fs.readSync in this thread, and the index's native reader thread is
// started from it, so both inherit its priority (libuv's pool, or a reader started from the main
// thread, would not). One upload at a time, an index read beside it; abort() ends the upload in
// progress; close() ends the thread, a request the store never answered included, without waiting
// on it: on a saturated machine a nice-19 thread may not run for seconds, so its requests are
// failed at once and it is raised back (where permitted) to end.
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { lowerThreadPriority, raiseThreadsAt } from '../runtime/thread-priority';
import type { CaptureIndex } from './capture-index';
import { giveWay, heldMs, MAX_HOLD_MS, newGate, partsWaiting } from './ingest-gate';
import type { ObjectParams } from './multipart-upload';

export interface UploadJob {
  file: string;
  params: ObjectParams;
}

/** The worker's settings, fixed for its life. */
export interface UploadThreadOptions {
  /** A request idle this long fails (s3Client's idleTimeoutMs). */
  idleTimeoutMs: number;
  partBytes: number;
  partsInFlight: number;
}

/** A closed capture file to index (indexCaptureFile's arguments). */
export interface IndexJob {
  file: string;
  agent: string;
  sizeBytes: number;
}

type Work = { kind: 'upload'; job: UploadJob } | { kind: 'abort' } | { kind: 'index'; job: IndexJob };
type Request = Work & { id: number };
/** Not a request: nothing is answered. */
type Control = { kind: 'raise' };
type WorkerSettings = UploadThreadOptions & { stepBack: boolean; gate: Int32Array };
/** An abort's `clean`: nothing of the upload it ended is left in the store; an index read's `index`. */
type Reply = { id: number; ok: true; clean?: boolean; index?: CaptureIndex } | { id: number; ok: false; error: SdkErrorFields };
/** What describeS3Error reads of an SDK error, copied across the thread boundary. */
interface SdkErrorFields {
  name?: string;
  message?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Nice value of the upload thread: below the capture path, which must not wait for uploads. */
const UPLOAD_NICE = 19;

export class UploadThread {
  private worker?: Worker;
  /** After close(): requests fail instead of starting the thread again. */
  private closed = false;
  private readonly pending = new Map<number, { resolve: (r: Reply & { ok: true }) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  /** Whether a thread started now lowers itself to UPLOAD_NICE (until raise()). */
  private stepBack = true;
  /** Shared with the thread: whether parts wait for the event loop (set by ingest-gate.ts's LoopSampler). */
  readonly gate = newGate();

  constructor(private readonly opt: UploadThreadOptions) {}

  /** Milliseconds parts have waited for the gate to open, summed over the thread's lanes. */
  heldMs(): number {
    return heldMs(this.gate);
  }

  /** Parts waiting for the gate to open now. */
  partsWaiting(): number {
    return partsWaiting(this.gate);
  }

  /**
   * Starts the thread now, idle (it keeps no process alive): loading the SDK then falls in the
   * spool's start, not in the middle of the ingest whose first closed file would start it.
   */
  warmUp(): void {
    if (!this.closed && !this.worker) this.start().unref();
  }

  async upload(job: UploadJob): Promise<void> {
    await this.request({ kind: 'upload', job });
  }

  /**
   * Ends the upload in progress and removes its parts from the store; resolves whether that was
   * confirmed (false: the store did not answer; the next upload tries again).
   */
  async abort(): Promise<boolean> {
    if (!this.worker) return true;
    return (await this.request({ kind: 'abort' })).clean ?? true;
  }

  /** Reads a closed capture file for its index (rejects with the reader's message). */
  async index(job: IndexJob): Promise<CaptureIndex> {
    return (await this.request({ kind: 'index', job })).index!;
  }

  private request(r: Work): Promise<Reply & { ok: true }> {
    if (this.closed) return Promise.reject(new Error('upload thread closed'));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    worker.ref(); // an upload in progress keeps the process; an idle thread does not
    return new Promise<Reply & { ok: true }>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...r, id } satisfies Request);
    }).finally(() => {
      if (!this.pending.size) worker.unref();
    });
  }

  /**
   * From now on at the process's priority, where permitted: at shutdown's drain nothing is captured
   * any more, and at nice 19 beside a busy machine the files left would wait out the drain
   * deadline (the thread's own start-up, loading the SDK, alone took longer).
   */
  raise(): void {
    this.stepBack = false;
    if (!this.worker) return;
    raiseThreadsAt(UPLOAD_NICE);
    // Also sent: a thread just started lowers itself when it starts running, possibly after this.
    this.worker.postMessage({ kind: 'raise' } satisfies Control);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.closed = true;
    this.failAll(new Error('upload thread closed'));
    if (!w) return;
    // Ending it takes the thread's own CPU (and its index reader's, joined on the way out).
    raiseThreadsAt(UPLOAD_NICE);
    await w.terminate();
  }

  private start(): Worker {
    // Compiled, this file is also the worker's script (by its folder: the CLI's bundle is elsewhere).
    const w = new Worker(path.resolve(__dirname, '..', 'storage', 'upload-thread.js'), { workerData: { ...this.opt, stepBack: this.stepBack, gate: this.gate } satisfies WorkerSettings });
    w.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(Object.assign(new Error(r.error.message ?? r.error.name ?? 'upload failed'), r.error));
    });
    const gone = (err: Error) => {
      if (this.worker === w) this.worker = undefined; // made again for the next upload
      this.failAll(err);
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`upload thread exited (${code})`)));
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

async function runWorker(): Promise<void> {
  const opt = workerData as WorkerSettings;
  if (opt.stepBack) lowerThreadPriority(UPLOAD_NICE); // refused: uploads run at the process's priority
  // Listening before the SDK is loaded: a raise must not wait for that load at nice 19.
  const serve = loadServer(opt);
  parentPort!.on('message', (m: Request | Control) => {
    if (m.kind === 'raise') raiseThreadsAt(UPLOAD_NICE);
    else void serve.then((handle) => handle(m)); // in the order sent
  });
}

async function loadServer(opt: WorkerSettings): Promise<(m: Request) => void> {
  const { MultipartUploader } = await import('./multipart-upload');
  const { indexCaptureFile } = await import('./capture-index');
  const { s3Client } = await import('./store');
  const uploader = new MultipartUploader(s3Client(opt.idleTimeoutMs), opt.partBytes, opt.partsInFlight, (signal) => giveWay(opt.gate, MAX_HOLD_MS, signal));
  const reply = (r: Reply) => parentPort!.postMessage(r);
  const failed = (id: number) => (err: SdkErrorFields) =>
    reply({ id, ok: false, error: { name: err?.name, message: err?.message, Code: err?.Code, code: err?.code, $metadata: { httpStatusCode: err?.$metadata?.httpStatusCode } } });
  return (m) => {
    if (m.kind === 'abort') uploader.abort().then((clean) => reply({ id: m.id, ok: true, clean }), failed(m.id));
    else if (m.kind === 'index')
      giveWay(opt.gate, MAX_HOLD_MS) // its reader, too, is CPU the capture path may need
        .then(() => indexCaptureFile(m.job.file, m.job.agent, m.job.sizeBytes))
        .then((index) => reply({ id: m.id, ok: true, index }), failed(m.id));
    else uploader.upload(m.job.file, m.job.params).then(() => reply({ id: m.id, ok: true }), failed(m.id));
  };
}

if (!isMainThread && (workerData as Partial<UploadThreadOptions> | undefined)?.partBytes !== undefined) void runWorker();
