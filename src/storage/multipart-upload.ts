// One closed file to one object, on the SDK's S3 commands alone (no @aws-sdk/lib-storage): each
// part is read with fs.readSync (in the calling thread, so at its nice value, not in libuv's pool)
// straight into one of a few pooled part buffers and sent from there: no joining of read chunks,
// no buffer allocated per part. Integrity: a CRC32 of every part (zlib's, ~0.2 ms per MB) that
// the store checks (x-amz-checksum-crc32, the checksum the SDK itself sends by default); over
// HTTPS the payload is not hashed again for the signature (UNSIGNED-PAYLOAD: TLS already
// protects it, as the AWS SDK for Java does), over plain HTTP it is (SigV4's SHA-256 is then the
// only protection against a changed body). A file that fails part-way keeps its multipart upload:
// the next attempt at the same file and key sends only the parts missing; any other outcome (the
// upload given up, another file's turn) aborts it, so no parts stay in the store.
import fs from 'node:fs';
import zlib from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type AbortMultipartUploadCommandInput,
  type CompletedPart,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';

export type ObjectParams = Pick<PutObjectCommandInput, 'Bucket' | 'Key' | 'ContentType' | 'ServerSideEncryption' | 'SSEKMSKeyId'> & { Bucket: string; Key: string };

/** S3's limits: at most 10,000 parts, each but the last at least 5 MiB. */
const MAX_PARTS = 10_000;
const MIN_PART = 5 << 20;
/** Multipart uploads given up while the store was away, kept to abort once it answers. */
const MAX_ORPHANS = 1000;

/** x-amz-checksum-crc32's value: the big-endian CRC32, base64. */
export function crc32Base64(data: Uint8Array): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(zlib.crc32(data) >>> 0);
  return b.toString('base64');
}

/**
 * Part buffers of one size, up to `count` kept for the next part; made on first use, dropped when
 * no upload has run for `idleMs` (an agent may hold one spool per session).
 */
export class PartPool {
  private free: Buffer[] = [];
  private size = 0;
  private lent = 0;
  private idle?: NodeJS.Timeout;

  constructor(
    private readonly count: number,
    private readonly idleMs = 60_000,
  ) {}

  /** A buffer of at least `size` bytes. */
  take(size: number): Buffer {
    clearTimeout(this.idle);
    if (size > this.size) {
      this.free = [];
      this.size = size;
    }
    this.lent++;
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(b: Buffer): void {
    this.lent--;
    if (b.length === this.size && this.free.length < this.count) this.free.push(b);
    if (!this.lent) {
      this.idle = setTimeout(() => (this.free = []), this.idleMs);
      this.idle.unref();
    }
  }
}

/** The multipart upload a failed attempt left, continued by the next attempt at the same file. */
interface Unfinished {
  file: string;
  params: ObjectParams;
  uploadId: string;
  partSize: number;
  /** By part number - 1: those the store confirmed. */
  parts: (CompletedPart | undefined)[];
}

/**
 * Uploads one file at a time (see the top of this file). `abort()` ends the upload in progress and
 * removes what it left in the store; a multipart upload the store could not be told to remove
 * then (unreachable) is tried again before the next upload.
 */
export class MultipartUploader {
  private unfinished?: Unfinished;
  private orphans: AbortMultipartUploadCommandInput[] = [];
  private controller?: AbortController;
  /** Uploads and aborts run one after the other: a part buffer is never reused while sent. */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly pool: PartPool;

  constructor(
    private readonly client: S3Client,
    private readonly partSize: number,
    private readonly partsInFlight: number,
    /** Awaited before each part is read (the upload thread: giving way to ingest, ingest-gate.ts). */
    private readonly beforePart: (signal: AbortSignal) => Promise<void> = async () => {},
  ) {
    this.pool = new PartPool(partsInFlight);
    // Sign the payload only where TLS does not protect it (see the top of this file).
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { protocol?: string; headers?: Record<string, string>; body?: unknown };
        if (req.protocol === 'https:' && req.headers && Buffer.isBuffer(req.body)) req.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'podspanUnsignedPayloadOverTls' },
    );
  }

  upload(file: string, params: ObjectParams): Promise<void> {
    return this.inTurn(async () => {
      // Another file's turn: the spool gave the earlier one up (dropped by the cap, or deleted).
      if (this.unfinished && (this.unfinished.file !== file || this.unfinished.params.Key !== params.Key)) this.forget();
      const controller = (this.controller = new AbortController());
      await this.abortOrphans(controller.signal);
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const partSize = Math.max(this.partSize, MIN_PART, Math.ceil(size / MAX_PARTS));
        if (size <= partSize && !this.unfinished) await this.put(fd, size, params, controller.signal);
        else await this.multipart(fd, file, size, partSize, params, controller.signal);
      } finally {
        fs.closeSync(fd);
        this.controller = undefined;
      }
    });
  }

  /** Ends the upload in progress; resolves true once nothing of it is left in the store. */
  abort(): Promise<boolean> {
    this.controller?.abort();
    return this.inTurn(async () => {
      this.forget();
      await this.abortOrphans();
      return this.orphans.length === 0;
    });
  }

  private inTurn<T>(f: () => Promise<T>): Promise<T> {
    const run = this.turn.then(f);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private forget(): void {
    const u = this.unfinished;
    this.unfinished = undefined;
    if (u) this.orphans.push({ Bucket: u.params.Bucket, Key: u.params.Key, UploadId: u.uploadId });
    if (this.orphans.length > MAX_ORPHANS) this.orphans.shift(); // a store away for days: its lifecycle rule removes the rest
  }

  private async abortOrphans(abortSignal?: AbortSignal): Promise<void> {
    for (const o of [...this.orphans]) {
      try {
        await this.client.send(new AbortMultipartUploadCommand(o), { abortSignal });
      } catch (err) {
        if ((err as { name?: string }).name !== 'NoSuchUpload') return; // the store is away: tried again next time
      }
      this.orphans.splice(this.orphans.indexOf(o), 1);
    }
  }

  private async put(fd: number, size: number, params: ObjectParams, abortSignal: AbortSignal): Promise<void> {
    await this.beforePart(abortSignal);
    const buf = this.pool.take(size);
    try {
      const body = readPart(fd, buf, 0, size);
      await this.client.send(new PutObjectCommand({ ...params, Body: body, ContentLength: size, ChecksumCRC32: crc32Base64(body) }), { abortSignal });
    } finally {
      this.pool.give(buf);
    }
  }

  private async multipart(fd: number, file: string, size: number, partSize: number, params: ObjectParams, abortSignal: AbortSignal): Promise<void> {
    if (this.unfinished && this.unfinished.partSize !== partSize) this.forget();
    let u = this.unfinished;
    if (!u) {
      const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ ...params, ChecksumAlgorithm: 'CRC32' }), { abortSignal });
      if (!UploadId) throw new Error('CreateMultipartUpload answered no UploadId');
      u = this.unfinished = { file, params, uploadId: UploadId, partSize, parts: [] };
    }
    const count = Math.max(1, Math.ceil(size / partSize));
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !u.parts[i]);
    let failure: unknown;
    // `partsInFlight` lanes take the next missing part in turn; after a failure none starts another.
    const lane = async () => {
      for (let i = missing.shift(); i !== undefined && failure === undefined && !abortSignal.aborted; i = missing.shift()) {
        await this.beforePart(abortSignal);
        if (abortSignal.aborted) break;
        const len = Math.min(partSize, size - i * partSize);
        const buf = this.pool.take(partSize);
        try {
          const body = readPart(fd, buf, i * partSize, len);
          const checksum = crc32Base64(body);
          const r = await this.client.send(
            new UploadPartCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: u.uploadId, PartNumber: i + 1, Body: body, ContentLength: len, ChecksumCRC32: checksum }),
            { abortSignal },
          );
          if (!r.ETag) throw new Error(`UploadPart ${i + 1} answered no ETag`);
          u.parts[i] = { PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 ?? checksum };
        } catch (err) {
          failure ??= err;
        } finally {
          this.pool.give(buf);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.partsInFlight, missing.length) }, lane));
    if (failure !== undefined) {
      if ((failure as { name?: string }).name === 'NoSuchUpload') this.unfinished = undefined; // the store lost it: start again
      throw failure; // otherwise the parts sent stay for the next attempt
    }
    if (abortSignal.aborted) throw Object.assign(new Error('upload aborted'), { name: 'AbortError' });
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: u.uploadId, MultipartUpload: { Parts: u.parts as CompletedPart[] } }),
        { abortSignal },
      );
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      // The store lost the upload (or completed it and the answer was lost): start again next time.
      if (e.name === 'NoSuchUpload') this.unfinished = undefined;
      // Refused for good (a part missing or too small, say): the next attempt begins anew.
      else if (e.$metadata?.httpStatusCode && e.$metadata.httpStatusCode >= 400 && e.$metadata.httpStatusCode < 500 && e.$metadata.httpStatusCode !== 429) this.forget();
      throw err;
    }
    this.unfinished = undefined;
  }
}

/** `len` bytes of the file at `pos` into `buf` (a closed file: fewer means it was cut short). */
function readPart(fd: number, buf: Buffer, pos: number, len: number): Buffer {
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) throw new Error(`file ended at byte ${pos + got}, ${len - got} bytes short of its size at the start of the upload`);
    got += n;
  }
  return buf.subarray(0, len);
}
