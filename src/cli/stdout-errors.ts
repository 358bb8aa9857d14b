// Standard output that cannot be written: a closed pipe (`| head`) ends quietly, as tcpdump's
// output does (capture stops on it); anything else (a full disk) is one line and exit 1, where
// Node's unhandled 'error' event printed a stack trace (`podspan version > /dev/full`).
//
// Lines a command prints at its end (a summary, top lists) go straight to the descriptor
// (LineWriter): the first use of process.stdout or process.stderr loads Node's net, tty and
// stream modules, ~1.5 ms of every start for a few lines. Node writes both synchronously to
// files, pipes and terminals on Linux, so each line still leaves when it is written, in order.
import fs from 'node:fs';

/** What commands print lines to: process.stdout, process.stderr or a LineWriter. */
export interface TextOut {
  write(text: string): unknown;
}

/** Watches standard output's errors for `program`; done() once the command's own status is set. */
export class StdoutWatch {
  private failed = false;

  constructor(private readonly program: string) {
    // Node makes process.stdout at its first use: watched from then on, not made here.
    const made = Object.getOwnPropertyDescriptor(process, 'stdout');
    if (!made?.get || !made.configurable) {
      this.watch(process.stdout);
      return;
    }
    Object.defineProperty(process, 'stdout', {
      configurable: true,
      enumerable: made.enumerable,
      get: () => {
        const out = made.get!.call(process) as NodeJS.WriteStream;
        Object.defineProperty(process, 'stdout', { configurable: true, enumerable: made.enumerable, get: () => out });
        this.watch(out);
        return out;
      },
    });
  }

  /** A write to standard output failed with `e`. */
  failedWith(e: NodeJS.ErrnoException): void {
    if (e.code === 'EPIPE' || this.failed) return;
    this.failed = true;
    stderr.write(`${this.program}: standard output: ${e.message}\n`);
    this.fail(); // after the command's status, when the error came last
  }

  /** The command's status is set: an error that came before it still makes the exit 1. */
  done(): void {
    if (this.failed) this.fail();
  }

  private fail(): void {
    if (!process.exitCode) process.exitCode = 1;
  }

  private watch(out: NodeJS.WriteStream): void {
    out.on('error', (e: NodeJS.ErrnoException) => this.failedWith(e));
  }
}

/**
 * Lines to descriptor 1 or 2 with fs.writeSync. A descriptor that cannot take them now (EAGAIN:
 * a non-blocking pipe whose reader lags) hands the rest, and every later line, to Node's stream,
 * which waits for room. Other errors go to `onError` (standard error's own are dropped: there is
 * nowhere left to say them).
 */
export class LineWriter implements TextOut {
  private viaStream = false;

  constructor(
    private readonly fd: 1 | 2,
    private readonly onError: (e: NodeJS.ErrnoException) => void = () => {},
  ) {}

  write(text: string): boolean {
    if (this.viaStream) return this.stream().write(text);
    const bytes = Buffer.from(text);
    let done = 0;
    try {
      while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done);
      return true;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'EAGAIN') {
        this.onError(e);
        return false;
      }
      this.viaStream = true;
      return this.stream().write(bytes.subarray(done));
    }
  }

  private stream(): NodeJS.WriteStream {
    return this.fd === 1 ? process.stdout : process.stderr;
  }
}

/** Standard error's lines (see LineWriter). */
export const stderr = new LineWriter(2);
