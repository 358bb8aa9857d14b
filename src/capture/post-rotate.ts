// tcpdump's -z: a program run as PROGRAM FILE on each capture file closed by rotation (gzip,
// an upload script). One at a time, in the order the files closed, at the lowest CPU priority so
// that it never takes the capture's CPU; the files wait in a list (one name per file, not per
// packet). A run that fails is said in one line, and the capture's exit status says so too.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const LOWEST_NICE = 19;

/** coreutils' nice on PATH, or undefined. */
function findNice(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir || '.', 'nice');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export class PostRotate {
  private readonly waiting: string[] = [];
  private readonly nice = findNice();
  private running?: Promise<void>;
  private idle?: () => void;
  /** Runs that did not exit 0 (or did not start). */
  failed = 0;

  constructor(
    private readonly program: string,
    private readonly err: NodeJS.WritableStream,
  ) {}

  add(files: string[]): void {
    this.waiting.push(...files);
    this.next();
  }

  /** Resolves once every file added has been through the program. */
  done(): Promise<void> {
    if (!this.running && !this.waiting.length) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  private next(): void {
    if (this.running) return;
    const file = this.waiting.shift();
    if (file === undefined) {
      this.idle?.();
      return;
    }
    this.running = this.run(file).finally(() => {
      this.running = undefined;
      this.next();
    });
  }

  private run(file: string): Promise<void> {
    return new Promise((resolve) => {
      // Started at the lowest priority by nice(1): lowered after the spawn, a quick program (or
      // the first thing it runs) could run before it was lowered.
      const child = this.nice
        ? spawn(this.nice, ['-n', String(LOWEST_NICE), this.program, file], { stdio: ['ignore', 'inherit', 'inherit'] })
        : spawn(this.program, [file], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (!this.nice && child.pid !== undefined) {
        try {
          os.setPriority(child.pid, LOWEST_NICE);
        } catch {
          // ended already, or not permitted: it runs at the capture's priority
        }
      }
      const said = (what: string) => {
        this.failed += 1;
        this.err.write(`podspan: -z ${this.program} ${path.basename(file)}: ${what}\n`);
      };
      let started = true;
      child.on('error', (e) => {
        started = false; // not run (spawn failed): said here, and its 'close' only ends the wait
        said((e as NodeJS.ErrnoException).code ?? e.message);
        resolve();
      });
      child.on('close', (code, signal) => {
        if (!started) return;
        if (signal) said(`ended by ${signal}`);
        else if (code !== 0 && code !== null) said(`exit ${code}`);
        resolve();
      });
    });
  }
}
