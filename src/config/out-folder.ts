// An output folder (created when missing): a file of that name is refused before any work is done,
// not found after a capture was read or a replay run.
import fs from 'node:fs';
import { UsageError } from '../errors';

export function checkOutFolder(flag: string, dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw new UsageError(`${flag} ${dir}: exists and is not a folder`);
}
