// Every readable third-party capture converts to pcapng and back with the packet count and
// bytes capinfos reports for the original; each deliberately corrupt one gives a clear error.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureSession } from '../../src/capture/session';
import { PodspanError } from '../../src/errors';
import { capinfos, corpusDir, corpusEntries, podspan, run, tsharkFrames, tsharkWarnings, type CorpusEntry } from '../helpers/tools';

const dir = corpusDir();
if (!dir) console.log('corpus tests skipped: no ../shared/corpus (set PODSPAN_CORPUS to its folder)');

async function convert(input: string, output: string, format: 'pcap' | 'pcap-ns' | 'pcapng') {
  const session = CaptureSession.open({
    source: { kind: 'file', path: input },
    snaplen: 262144,
    promisc: false,
    immediate: false,
    timeoutMs: 100,
    output: { path: output, format },
  });
  return session.start();
}

describe.skipIf(!dir)('third-party corpus', () => {
  const entries: CorpusEntry[] = dir ? corpusEntries(dir) : [];
  const good = entries.filter((e) => !e.corrupt);
  const corrupt = entries.filter((e) => e.corrupt);
  let tmp: string;
  let originals: ReturnType<typeof capinfos>;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-corpus-'));
    originals = capinfos(good.map((e) => e.path));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('lists 119 captures, 9 of them corrupt', () => {
    expect(entries.length).toBe(119);
    expect(corrupt.length).toBe(9);
  });

  it('converts every readable capture to pcapng with the packets and bytes capinfos reports', async () => {
    const mismatches: string[] = [];
    const outputs: string[] = [];
    for (const e of good) {
      const out = path.join(tmp, `${e.file}.pcapng`);
      const result = await convert(e.path, out, 'pcapng');
      if (result.error) mismatches.push(`${e.file}: ${result.error.message}`);
      outputs.push(out);
    }
    const converted = capinfos(outputs);
    good.forEach((e, i) => {
      const want = originals.get(e.path);
      const got = converted.get(outputs[i]);
      if (!want || !got || want.packets !== got.packets || want.dataBytes !== got.dataBytes) {
        mismatches.push(`${e.file}: capinfos ${JSON.stringify(want)} vs ours ${JSON.stringify(got)}`);
      }
    });
    expect(mismatches).toEqual([]);
  });

  it('converts the pcapng back to pcap with the same packets and bytes (or says why pcap cannot hold it)', async () => {
    const mismatches: string[] = [];
    const refused: string[] = [];
    for (const e of good) {
      const ng = path.join(tmp, `${e.file}.back.pcapng`);
      const back = path.join(tmp, `${e.file}.back.pcap`);
      await convert(e.path, ng, 'pcapng');
      const result = await convert(ng, back, 'pcap-ns');
      if (result.error) {
        // pcap holds one link type; files mixing link types can only be pcapng.
        if (/pcap holds one link type/.test(result.error.message)) refused.push(e.file);
        else mismatches.push(`${e.file}: ${result.error.message}`);
        continue;
      }
      const want = originals.get(e.path)!;
      const got = capinfos([back]).get(back);
      if (!got || got.packets !== want.packets || got.dataBytes !== want.dataBytes) {
        mismatches.push(`${e.file}: want ${JSON.stringify(want)} got ${JSON.stringify(got)}`);
      }
    }
    expect(mismatches).toEqual([]);
    for (const f of refused) expect(entries.find((e) => e.file === f)!.categories).toContain('pcapng-multi-linktype');
  });

  it('keeps every packet length and timestamp (tshark, pcapng and nanosecond-precision files)', async () => {
    const picks = good.filter((e) => e.categories.some((c) => /pcapng|pcap-nsec|big-endian|tsresol|kuznetzov/.test(c)));
    expect(picks.length).toBeGreaterThan(10);
    for (const e of picks) {
      // Fractions of 1 s or more: we carry them into the seconds, tshark prints the raw fields.
      if (e.categories.includes('corrupt-bad-timestamp')) continue;
      const out = path.join(tmp, `${e.file}.ts.pcapng`);
      await convert(e.path, out, 'pcapng');
      const a = tsharkFrames(e.path);
      const b = tsharkFrames(out);
      expect(b.map((f) => [f.len, f.caplen]), e.file).toEqual(a.map((f) => [f.len, f.caplen]));
      // tshark prints epoch time at the file's resolution; compare at microseconds.
      const us = (t: string) => (t ? Math.round(Number(t) * 1e6) : 0);
      expect(b.map((f) => us(f.time)), e.file).toEqual(a.map((f) => us(f.time)));
      expect(tsharkWarnings(out), e.file).toBe('');
    }
  });

  it('keeps section and packet comments of pcapng files', async () => {
    const picks = good.filter((e) => e.categories.includes('pcapng-comments'));
    expect(picks.length).toBeGreaterThan(5);
    const comments = (file: string, args: string[], tool = 'tshark') =>
      run(tool, tool === 'tshark' ? ['-r', file, ...args] : [...args, file]).stdout.replace(file, 'FILE');
    for (const e of picks) {
      const out = path.join(tmp, `${e.file}.comments.pcapng`);
      await convert(e.path, out, 'pcapng');
      // Packets only: tshark also lists custom and other non-packet blocks as frames.
      const packetComments = (file: string) =>
        comments(file, ['-T', 'fields', '-e', 'frame.encap_type', '-e', 'frame.comment'])
          .split('\n')
          .filter((l) => !l.startsWith('\t'))
          .join('\n');
      expect(packetComments(out), e.file).toBe(packetComments(e.path));
      // Several sections become one; its comments are the first section's (see README).
      if (!e.categories.includes('pcapng-multi-section')) {
        expect(comments(out, ['-k'], 'capinfos'), e.file).toBe(comments(e.path, ['-k'], 'capinfos'));
      }
    }
  });

  it('refuses each corrupt capture with a clear error naming the file, and never crashes', async () => {
    for (const e of corrupt) {
      const out = path.join(tmp, `${e.file}.pcapng`);
      let message = '';
      try {
        const result = await convert(e.path, out, 'pcapng');
        message = result.error?.message ?? '';
        // Packets before the damage are kept and the file is closed valid.
        expect(tsharkWarnings(out), e.file).toBe('');
      } catch (err) {
        expect(err).toBeInstanceOf(PodspanError);
        message = (err as Error).message;
      }
      expect(message, e.file).toContain(e.file);
    }
  });

  it('the CLI gives one line and a non-zero exit for each corrupt capture', () => {
    for (const e of corrupt) {
      const r = podspan(['capture', '-r', e.path, '-w', path.join(tmp, 'cli.pcapng')]);
      expect(r.code, e.file).not.toBe(0);
      const errLines = r.stderr.split('\n').filter((l) => l.startsWith('podspan: '));
      expect(errLines.length, e.file).toBe(1);
      expect(errLines[0]).toContain(e.file);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
