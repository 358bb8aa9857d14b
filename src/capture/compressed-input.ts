// Capture files compressed with gzip, zstd, xz, bzip2 or lz4, read as tshark reads them (and as
// tcpdump -z gzip leaves rotated files): each through its decompressor, a process of its own (so
// on another core), writing into a FIFO that the native reader streams as it streams a pipe.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findCommand } from '../config/command-path';
import { InputFileError, type PodspanError } from '../errors';

const FORMATS: { name: string; magic: number[]; program: string }[] = [
  { name: 'gzip', magic: [0x1f, 0x8b], program: 'gzip' },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], program: 'zstd' },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], program: 'xz' },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], program: 'bzip2' },
  { name: 'lz4', magic: [0x04, 0x22, 0x4d, 0x18], program: 'lz4' },
];
/** What a decompressor's stderr may hold here: the first line is what is reported. */
const MAX_STDERR = 4096;

/** The compression of a file from its first bytes, or undefined (not compressed, or not readable here: the reader says why). */
function compressionOf(file: string): (typeof FORMATS)[number] | undefined {
  let fd: number | undefined;
  try {
    // Not opened unless a regular file: opening a FIFO waits for its writer, and its first bytes are the reader's.
    if (!fs.statSync(file).isFile()) return undefined;
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(6);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return FORMATS.find((f) => f.magic.length <= n && f.magic.every((b, i) => head[i] === b));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

interface Decompressor {
  file: string;
  fifo: string;
  program: string;
  child: ChildProcess;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A compressed file of the input and the FIFO its decompressor will write. */
interface Pending {
  file: string;
  fifo: string;
  program: string;
}

/**
 * Decompressors running (or waiting for the reader to open their FIFO) at once. The reader opens
 * a FIFO only when it reaches that file, so two keep the next one ready while the current one
 * runs; a -V list of hundreds of files never runs hundreds of processes and pipe buffers.
 */
const AHEAD = 2;

/** The inputs of one capture, compressed ones replaced by FIFOs their decompressors write. */
export class CompressedInputs {
  private ended = false;
  private readonly running: Decompressor[] = [];
  private unfinished = 0;

  private constructor(
    readonly paths: string[],
    private readonly dir: string,
    private readonly pending: Pending[],
  ) {}

  /** undefined when no file of `files` is compressed (nothing to start). */
  static open(files: string[]): CompressedInputs | undefined {
    const formats = files.map((f) => (f === '-' ? undefined : compressionOf(f)));
    if (!formats.some(Boolean)) return undefined;
    for (const [i, f] of formats.entries()) {
      if (f && !findCommand(f.program)) throw new InputFileError(`${files[i]}: ${f.name}-compressed; reading it needs ${f.program}, which is not installed`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-input-'));
    const pending: Pending[] = [];
    const paths = [...files];
    for (const [i, f] of formats.entries()) {
      if (!f) continue;
      paths[i] = path.join(dir, String(i));
      pending.push({ file: files[i], fifo: paths[i], program: f.program });
    }
    const inputs = new CompressedInputs(paths, dir, pending);
    try {
      // One mkfifo for all: a process per file would cost a millisecond or more each.
      const made = spawnSync('mkfifo', ['-m', '600', ...pending.map((p) => p.fifo)], { encoding: 'utf8' });
      if (made.status !== 0) throw new InputFileError(`${pending[0].file}: cannot make a FIFO to decompress it through (${made.stderr.trim() || made.error?.message})`);
      inputs.startMore();
    } catch (err) {
      void inputs.close();
      throw err;
    }
    return inputs;
  }

  /** Starts the next decompressors in the list, up to AHEAD unfinished. */
  private startMore(): void {
    while (!this.ended && this.unfinished < AHEAD && this.running.length < this.pending.length) {
      const { file, fifo, program } = this.pending[this.running.length];
      // The shell opens the FIFO (waiting for the reader), then becomes the decompressor; the
      // file by its absolute path, so a name starting with '-' is not taken for an option.
      const child = spawn('sh', ['-c', 'exec "$@" > "$0"', fifo, program, '-dc', path.resolve(file)], { stdio: ['ignore', 'ignore', 'pipe'] });
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('close', (code, signal) => {
          this.unfinished--;
          resolve({ code, signal });
          this.startMore();
        }),
      );
      const d: Decompressor = { file, fifo, program, child, stderr: '', exit };
      child.stderr!.on('data', (b: Buffer) => {
        if (d.stderr.length < MAX_STDERR) d.stderr += b.toString('utf8');
      });
      this.unfinished++;
      this.running.push(d);
    }
  }

  /** A reader's message names the original file, not its FIFO. */
  rename<E extends PodspanError>(err: E): E {
    let message = err.message;
    for (const p of this.pending) message = message.split(p.fifo).join(p.file);
    if (message === err.message) return err;
    return new (err.constructor as new (m: string) => E)(message);
  }

  /**
   * Ends what still runs (reading stopped early: -c, a signal) and removes the FIFOs. Resolves to
   * the first decompressor that failed (a damaged file), as an InputFileError naming the file.
   */
  async close(): Promise<InputFileError | undefined> {
    if (this.ended) return undefined;
    this.ended = true;
    // Still writing (reading stopped early: -c, a signal): ended here. One that ended by itself
    // may not have been reaped yet, so what counts is how each ended, not whether it ran.
    for (const d of this.running) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
    const ends = await Promise.all(this.running.map((d) => d.exit));
    fs.rmSync(this.dir, { recursive: true, force: true });
    // Ended by a signal (ours, or the broken pipe of a FIFO closed early): no fault of the file.
    const faulty = (i: number) => ends[i].code !== null && ends[i].code !== 0 && !/broken pipe/i.test(this.running[i].stderr);
    const failed = this.running.findIndex((_, i) => faulty(i));
    if (failed < 0) return undefined;
    const d = this.running[failed];
    const why = d.stderr.trim().split('\n')[0] || `exit status ${ends[failed].code ?? ends[failed].signal}`;
    return new InputFileError(`${d.file}: ${d.program} could not decompress it: ${why}`);
  }
}
