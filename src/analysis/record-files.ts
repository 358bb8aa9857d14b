// DIR/flows.jsonl, http.jsonl and dns.jsonl (and alerts.jsonl when detecting; written as records arrive, whole lines only) and
// DIR/summary.json (written once at the end, through a temporary file renamed into place, so a
// reader never sees half a summary).
import fs from 'node:fs';
import path from 'node:path';
import { OutputError } from '../errors';
import type { RecordOutput } from './pipeline';
import { ANALYTICS_KINDS, type RecordKind } from './records';
import { makeDirs } from '../runtime/make-dirs';

export const RECORD_FILE_NAMES: Record<RecordKind, string> = { flows: 'flows.jsonl', http: 'http.jsonl', dns: 'dns.jsonl', alerts: 'alerts.jsonl' };

export class RecordFiles implements RecordOutput {
  private readonly fds = new Map<RecordKind, number>();
  readonly paths: Partial<Record<RecordKind, string>>;

  /** `kinds`: the files to make (alerts.jsonl only when detecting). */
  constructor(
    readonly dir: string,
    kinds: readonly RecordKind[] = ANALYTICS_KINDS,
  ) {
    try {
      makeDirs(dir);
    } catch (err) {
      throw new OutputError(`${dir}: ${(err as Error).message}`);
    }
    this.paths = Object.fromEntries(kinds.map((k) => [k, path.join(dir, RECORD_FILE_NAMES[k])]));
    for (const k of kinds) {
      try {
        this.fds.set(k, fs.openSync(this.paths[k]!, 'w'));
      } catch (err) {
        this.close();
        throw new OutputError(`${this.paths[k]}: ${(err as Error).message}`);
      }
    }
  }

  write(kind: RecordKind, lines: Buffer): void {
    const fd = this.fds.get(kind);
    if (fd === undefined) return;
    try {
      for (let off = 0; off < lines.length; ) off += fs.writeSync(fd, lines, off, lines.length - off);
    } catch (err) {
      throw new OutputError(`${this.paths[kind]}: ${(err as Error).message}`);
    }
  }

  writeSummary(summary: unknown): string {
    const file = path.join(this.dir, 'summary.json');
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(summary, null, 2) + '\n');
      fs.renameSync(tmp, file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw new OutputError(`${file}: ${(err as Error).message}`);
    }
    return file;
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}
