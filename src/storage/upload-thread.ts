// The spool's multipart uploads, run in a worker thread of lower CPU priority. On the main thread
// the AWS SDK's work per 16 MiB part (joining the read chunks, SigV4's payload hash, the checksum)
// holds the event loop ~90 ms at a time and costs ~5 ms of CPU per MB: the collector's gRPC
// streams then wait, and its ingest falls (BENCHMARKS.md, "The collector's ingest while it
// uploads"). In the worker the loop stays free, and at nice 19 the uploads take only the CPU
// the capture path leaves (at nice 10 they still took ~a fifth of a busy collector core). One
// file at a time; abort() ends the upload in progress; close() ends the thread, a request the
// store never answered included.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PutObjectCommandInput } from '@aws-sdk/client-s3';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface UploadJob {
  file: string;
  params: Pick<PutObjectCommandInput, 'Bucket' | 'Key' | 'ContentType' | 'ServerSideEncryption' | 'SSEKMSKeyId'>;
  partSize: number;
  queueSize: number;
}

type Reply = { id: number; ok: true } | { id: number; ok: false; error: SdkErrorFields };
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
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private nextId = 1;

  constructor(private readonly idleTimeoutMs: number) {}

  upload(job: UploadJob): Promise<void> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    worker.ref(); // an upload in progress keeps the process; an idle thread does not
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ kind: 'upload', id, job });
    }).finally(() => {
      if (!this.pending.size) worker.unref();
    });
  }

  /** Ends the upload in progress (its parts are removed from the store). */
  abort(): void {
    this.worker?.postMessage({ kind: 'abort' });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
    this.failAll(new Error('upload thread closed'));
  }

  private start(): Worker {
    // Compiled, this file is also the worker's script.
    const w = new Worker(path.join(__dirname, 'upload-thread.js'), { workerData: { idleTimeoutMs: this.idleTimeoutMs } });
    w.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve();
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

/** This thread's id (Linux: /proc/thread-self is PID/task/TID), to lower its priority alone. */
function threadId(): number | undefined {
  try {
    return Number(path.basename(fs.readlinkSync('/proc/thread-self')));
  } catch {
    return undefined;
  }
}

async function runWorker(): Promise<void> {
  const tid = threadId();
  if (tid !== undefined) {
    try {
      os.setPriority(tid, UPLOAD_NICE);
    } catch {
      // not allowed here: uploads run at the process's priority
    }
  }
  const { Upload } = await import('@aws-sdk/lib-storage');
  const { s3Client } = await import('./store');
  const client = s3Client((workerData as { idleTimeoutMs: number }).idleTimeoutMs);
  let current: InstanceType<typeof Upload> | undefined;
  parentPort!.on('message', (m: { kind: 'upload'; id: number; job: UploadJob } | { kind: 'abort' }) => {
    if (m.kind === 'abort') {
      void current?.abort().catch(() => undefined);
      return;
    }
    const body = fs.createReadStream(m.job.file);
    const upload = new Upload({ client, params: { ...m.job.params, Body: body }, partSize: m.job.partSize, queueSize: m.job.queueSize, leavePartsOnError: false });
    current = upload;
    upload
      .done()
      .then(
        () => parentPort!.postMessage({ id: m.id, ok: true } satisfies Reply),
        (err: SdkErrorFields) =>
          parentPort!.postMessage({ id: m.id, ok: false, error: { name: err?.name, message: err?.message, Code: err?.Code, code: err?.code, $metadata: { httpStatusCode: err?.$metadata?.httpStatusCode } } } satisfies Reply),
      )
      .finally(() => {
        if (current === upload) current = undefined;
        body.destroy();
      });
  });
}

if (!isMainThread && (workerData as { idleTimeoutMs?: number } | undefined)?.idleTimeoutMs !== undefined) void runWorker();
