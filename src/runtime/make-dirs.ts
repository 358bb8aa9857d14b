// `mkdir -p` for every folder podspan writes into. Node 20's own (mkdirSync with recursive, and
// its callback and promise forms) never returns when a parent exists but mkdir answers ENOENT, as
// under /proc or /sys: `podspan collector --out /proc/x` spun at 100% CPU, silent, for ever.
import fs from 'node:fs';
import path from 'node:path';

/**
 * Makes `dir` and its missing parents. Returns the first folder it made (as mkdirSync's
 * `recursive` does), undefined when `dir` was there. Throws mkdir's own errors (ENOENT, EACCES,
 * ENOTDIR; EEXIST when `dir` is a file).
 */
export function makeDirs(dir: string): string | undefined {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; ) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st) {
      if (!missing.length && !st.isDirectory()) fs.mkdirSync(d); // EEXIST, as Node's says it
      break;
    }
    missing.push(d);
    const parent = path.dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      fs.mkdirSync(missing[i]);
    } catch (e) {
      // Made meanwhile by someone else: as good as made here.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(missing[i]).isDirectory()) throw e;
    }
  }
  return missing.at(-1);
}
