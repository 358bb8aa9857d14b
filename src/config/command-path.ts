// Where a program named on the command line would be run from: as execvp finds it, the name
// itself when it has a slash, else the first executable file of that name in PATH.
import fs from 'node:fs';
import path from 'node:path';

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The program's path, or undefined when there is none to run. */
export function findCommand(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? name : undefined;
  for (const dir of searchPath.split(':')) {
    const candidate = path.join(dir || '.', name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
