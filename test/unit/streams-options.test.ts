// `podspan streams` flags into options: what the console asks of the capture when someone watches live.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStreamsFlags } from '../../src/config/streams-options';
import { repoRoot } from '../helpers/tools';

describe('podspan streams options', () => {
  it('live on the console: ring blocks and stream events sent after 20 ms, not 100', () => {
    const run = parseStreamsFlags({ interface: ['lo'], console: true });
    expect([run.capture.timeoutMs, run.capture.streamEvents?.flushMs]).toEqual([20, 20]);
  });

  it('reading a file, or writing files: the usual 100 ms and batches', () => {
    const file = path.join(repoRoot, 'fixtures', 'sample-20.pcap');
    const fromFile = parseStreamsFlags({ read: [file], console: true });
    expect([fromFile.capture.timeoutMs, fromFile.capture.streamEvents?.flushMs]).toEqual([100, undefined]);
    const toFiles = parseStreamsFlags({ interface: ['lo'], outDir: path.join(repoRoot, 'build', 'streams-options-test') });
    expect([toFiles.capture.timeoutMs, toFiles.capture.streamEvents]).toEqual([100, undefined]);
  });
});
