// An output folder naming a file is refused before any work, by every command that writes one.
// Before, `podspan shadow --report FILE` replayed every request to the candidate and only then
// failed to write the report, and `analyze -o FILE` ended in Node's "EEXIST ... mkdir".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAnalyzeFlags } from '../../src/config/analyze-options';
import { parseCollectorFlags } from '../../src/config/collector-options';
import { parseShadowFlags } from '../../src/config/shadow-options';
import { parseStreamsFlags } from '../../src/config/streams-options';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-out-folder-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = path.join(tmp, 'a-file');
fs.writeFileSync(file, '');

describe('an output folder that is a file', () => {
  it.each([
    ['analyze -o', () => parseAnalyzeFlags({ read: 'x.pcap', outDir: file }), `-o ${file}: exists and is not a folder`],
    ['streams -o', () => parseStreamsFlags({ read: 'x.pcap', outDir: file }), `-o ${file}: exists and is not a folder`],
    ['shadow --report', () => parseShadowFlags({ read: 'x.pcap', target: 'http://127.0.0.1:1', report: file }), `--report ${file}: exists and is not a folder`],
    ['collector --out', () => parseCollectorFlags({ listen: '127.0.0.1:0', out: file }), `--out ${file}: exists and is not a folder`],
  ])('%s is refused with its name', (_name, parse, message) => {
    expect(parse).toThrow(message);
  });

  it('a folder that exists, or does not yet, is taken', () => {
    expect(parseAnalyzeFlags({ read: 'x.pcap', outDir: tmp }).outDir).toBe(tmp);
    expect(parseStreamsFlags({ read: 'x.pcap', outDir: path.join(tmp, 'new') }).capture.streams?.dir).toBe(path.join(tmp, 'new'));
  });
});
