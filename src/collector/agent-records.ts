// An agent's analytics records at the collector: BASE.flows.jsonl, BASE.http.jsonl and
// BASE.dns.jsonl beside its pcapng BASE.pcapng, each created on its first records with O_EXCL (a
// name on disk is never truncated) and rotating like the pcapng's -C / -G / -W: past rotateBytes,
// or rotateSeconds after it was opened (by the collector's clock, as the pcapng's -G), the next
// file is BASE.KIND.N.jsonl (N = 2, 3, ...), and with rotateFiles only the newest that many of
// each kind are kept. Only whole lines are written, so every file is valid JSON lines.
import fs from 'node:fs';
import { OutputError } from '../errors';
import type { RecordKind } from '../analysis/records';
import type { RecordLines } from '../forward/frame-batch';
import type { FileRotation } from './agent-file';

interface KindFile {
  fd: number;
  bytes: number;
  openedMs: number;
  number: number;
  paths: string[];
}

export class AgentRecordFiles {
  private readonly open = new Map<RecordKind, KindFile>();
  private readonly closed: string[] = [];

  constructor(
    /** The pcapng's path without its extension. */
    private readonly base: string,
    private readonly rotation: FileRotation,
    /** The collector's clock in ms (a test passes its own). */
    private readonly now: () => number = Date.now,
  ) {}

  pathOf(kind: RecordKind, number: number): string {
    return `${this.base}.${kind}${number > 1 ? `.${number}` : ''}.jsonl`;
  }

  write(records: RecordLines[]): void {
    for (const r of records) {
      if (!r.lines.length) continue;
      let f = this.open.get(r.kind);
      if (f && f.bytes > 0 && this.due(f, r.lines.length)) {
        fs.closeSync(f.fd);
        f = this.create(r.kind, f.number + 1, f.paths);
      }
      if (!f) f = this.create(r.kind, 1, []);
      try {
        for (let off = 0; off < r.lines.length; ) off += fs.writeSync(f.fd, r.lines, off, r.lines.length - off);
      } catch (err) {
        throw new OutputError(`${f.paths[f.paths.length - 1]}: ${(err as Error).message}`);
      }
      f.bytes += r.lines.length;
    }
  }

  private due(f: KindFile, adding: number): boolean {
    const { rotateBytes, rotateSeconds } = this.rotation;
    if (rotateBytes && f.bytes + adding > rotateBytes) return true;
    return !!rotateSeconds && this.now() - f.openedMs >= rotateSeconds * 1000;
  }

  files(): string[] {
    return [...this.closed, ...[...this.open.values()].flatMap((f) => f.paths)];
  }

  /** Files no longer written to: rotated away from, or all of them once close()d. */
  closedFiles(): string[] {
    return [...this.closed, ...[...this.open.values()].flatMap((f) => f.paths.slice(0, -1))];
  }

  close(): void {
    for (const f of this.open.values()) {
      fs.closeSync(f.fd);
      this.closed.push(...f.paths);
    }
    this.open.clear();
  }

  private create(kind: RecordKind, number: number, paths: string[]): KindFile {
    const file = this.pathOf(kind, number);
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new OutputError(`${file}: ${code === 'EEXIST' ? 'exists already' : (err as Error).message}`);
    }
    paths.push(file);
    const keep = this.rotation.rotateFiles;
    while (keep && paths.length > keep) fs.rmSync(paths.shift()!, { force: true });
    const f = { fd, bytes: 0, openedMs: this.now(), number, paths };
    this.open.set(kind, f);
    return f;
  }
}
