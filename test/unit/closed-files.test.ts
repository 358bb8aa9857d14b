// ClosedFiles over a real folder: the rotated files of one output, handed out once each, all but
// the newest while it runs, the rest once stopped; files of the same name left by an earlier
// capture (which the upload spool resumes on its own) are never handed out again, or the spool
// would queue them twice and stall retrying the copy it had already uploaded and deleted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedFiles } from '../../src/storage/closed-files';

describe('ClosedFiles', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-closed-files-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const touch = (n: string) => fs.writeFileSync(path.join(dir, n), 'x');

  it("hands out this output's rotated files once each, never an earlier capture's", () => {
    touch('eth0_00001_20260101000000.pcapng'); // an earlier run's, left for the spool
    touch('eth0_00002_20260101000100.pcapng');
    const closed = new ClosedFiles(path.join(dir, 'eth0.pcapng'));
    touch('eth0_00001_20260102000000.pcapng'); // this capture's first file, being written
    expect(closed.take(false)).toEqual([]);
    touch('eth0_00002_20260102000100.pcapng');
    touch('eth1_00001_20260102000100.pcapng'); // another output's
    expect(closed.take(false)).toEqual([path.join(dir, 'eth0_00001_20260102000000.pcapng')]);
    expect(closed.take(false)).toEqual([]);
    expect(closed.take(true)).toEqual([path.join(dir, 'eth0_00002_20260102000100.pcapng')]);
    expect(closed.take(true)).toEqual([]);
  });
});
