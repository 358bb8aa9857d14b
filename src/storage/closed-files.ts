// The closed files of one rotating output (STEM.EXT written as STEM_NNNNN_STAMP.EXT by the native
// writer), found by listing its folder: every file but the newest is closed; after the writer has
// stopped, all are. Each is handed out once. Listing a folder is used rather than asking the
// capture thread's writer, which rotates while JavaScript would read its list. Files of that name
// already there when it is made belong to an earlier capture (the spool resumes those): made
// before the writer opens, it never hands them out.
import fs from 'node:fs';
import path from 'node:path';

export class ClosedFiles {
  private readonly dir: string;
  private readonly prefix: string;
  private readonly ext: string;
  private readonly handedOut = new Set<string>();
  /** There before this output began: an earlier capture's (its numbers may run past this one's). */
  private readonly earlier: Set<string>;

  constructor(outputPath: string) {
    this.dir = path.dirname(outputPath);
    this.ext = path.extname(outputPath);
    this.prefix = `${path.basename(outputPath, this.ext)}_`;
    this.earlier = new Set(this.list());
  }

  /** Files closed since the last call (all remaining ones once `stopped`), oldest first. */
  take(stopped: boolean): string[] {
    const names = this.list().filter((f) => !this.earlier.has(f));
    const closed = stopped ? names : names.slice(0, -1);
    const fresh = closed.filter((f) => !this.handedOut.has(f));
    for (const f of fresh) this.handedOut.add(f);
    return fresh;
  }

  /** This output's rotated files, in rotation order. */
  private list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.startsWith(this.prefix) && n.endsWith(this.ext) && /^\d{5,}_/.test(n.slice(this.prefix.length)));
    } catch {
      return [];
    }
    // NNNNN is zero-padded: name order is rotation order (beyond 99999, length first).
    names.sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
    return names.map((n) => path.join(this.dir, n));
  }
}
