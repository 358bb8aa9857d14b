import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_SNAPLEN, parseCaptureFlags } from '../../src/config/capture-options';
import { UsageError } from '../../src/errors';
import { formatFromPath } from '../../src/pcap/format';

describe('capture flags', () => {
  it('builds typed options with tcpdump defaults', () => {
    const run = parseCaptureFlags({ interface: ['eth0', 'eth1'], write: 'out.pcapng', count: '10', expression: ['tcp', 'port', '80'] });
    expect(run.capture.source).toEqual({ kind: 'live', interfaces: ['eth0', 'eth1'] });
    expect(run.capture.filter).toBe('tcp port 80');
    expect(run.capture.count).toBe(10);
    expect(run.capture.snaplen).toBe(MAX_SNAPLEN);
    expect(run.capture.promisc).toBe(true);
    expect(run.capture.output).toEqual({ path: 'out.pcapng', format: 'pcapng', rotateBytes: undefined, rotateSeconds: undefined, rotateFiles: undefined, strftimeNames: false, listRotated: false });
    expect(run.defaultInterface).toBe(false);
  });

  it('turns -C MB into bytes like tcpdump (millions of bytes)', () => {
    const run = parseCaptureFlags({ read: 'in.pcap', write: 'x.pcap', fileSize: '1.5', fileCount: '4' });
    expect(run.capture.output?.rotateBytes).toBe(1_500_000);
    expect(run.capture.output?.rotateFiles).toBe(4);
  });

  it('-F reads the filter from a file, # comments dropped as tcpdump does; a missing file, a folder or a second filter is one line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-filter-'));
    try {
      const file = path.join(dir, 'web.bpf');
      fs.writeFileSync(file, '# the shop\ntcp port 80   # plain HTTP\n  or tcp port 443\n');
      expect(parseCaptureFlags({ read: 'in.pcap', filterFile: file }).capture.filter).toBe('tcp port 80 or tcp port 443');
      fs.writeFileSync(path.join(dir, 'empty.bpf'), '# nothing yet\n');
      expect(parseCaptureFlags({ read: 'in.pcap', filterFile: path.join(dir, 'empty.bpf') }).capture.filter).toBeUndefined();
      const bad = (raw: Parameters<typeof parseCaptureFlags>[0]) => {
        try {
          parseCaptureFlags(raw);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          return (e as Error).message;
        }
        return 'accepted';
      };
      expect(bad({ read: 'in.pcap', filterFile: path.join(dir, 'nope.bpf') })).toBe(`-F ${path.join(dir, 'nope.bpf')}: no such file`);
      expect(bad({ read: 'in.pcap', filterFile: dir })).toBe(`-F ${dir}: a folder, not a file`);
      expect(bad({ read: 'in.pcap', filterFile: file, filter: 'udp' })).toBe(`-F ${file} gives the filter: drop 'udp' (tcpdump would ignore it silently)`);
      expect(bad({ read: 'in.pcap', filterFile: file, expression: ['udp'] })).toMatch(/drop 'udp'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes a -w name with % a strftime pattern only with -G, as tcpdump', () => {
    expect(parseCaptureFlags({ read: 'in.pcap', write: 'cap-%H.pcap', rotateSeconds: '60' }).capture.output?.strftimeNames).toBe(true);
    expect(parseCaptureFlags({ read: 'in.pcap', write: 'cap-%H.pcap', fileSize: '1' }).capture.output?.strftimeNames).toBe(false);
    expect(parseCaptureFlags({ read: 'in.pcap', write: 'cap.pcap', rotateSeconds: '60' }).capture.output?.strftimeNames).toBe(false);
  });

  it('picks the default interface when neither -i nor -r is given', () => {
    expect(parseCaptureFlags({}).defaultInterface).toBe(true);
  });

  it('-w - writes pcap to standard output, flushed per ring block, and per packet with -U', () => {
    const run = parseCaptureFlags({ interface: ['eth0'], write: '-' });
    expect(run.fileToStdout).toBe(true);
    expect(run.capture.output).toMatchObject({ path: '-', format: 'pcap' });
    expect(run.capture).toMatchObject({ flushPerBlock: true, flushPerPacket: false, anyCookedV2: true });
    expect(run.stdout).toEqual({ kind: 'none' });
    expect(parseCaptureFlags({ interface: ['eth0'], write: '-', format: 'pcapng' }).capture.output?.format).toBe('pcapng');
    expect(parseCaptureFlags({ interface: ['eth0'], write: 'x.pcap', packetBuffered: true }).capture).toMatchObject({ flushPerBlock: true, flushPerPacket: true });
    expect(parseCaptureFlags({ interface: ['eth0'], write: 'x.pcap' }).capture).toMatchObject({ flushPerBlock: false, flushPerPacket: false });
  });

  it('maps tcpdump\'s printing flags to print options', () => {
    const lines = (flags: object) => {
      const mode = parseCaptureFlags({ read: 'a', ...flags }).stdout;
      if (mode.kind !== 'lines') throw new Error(`expected lines, got ${mode.kind}`);
      return mode.print;
    };
    expect(lines({})).toEqual({ verbose: 0, link: false, quiet: false, timestamps: 0, dump: undefined, absoluteSeq: false, numbered: false, precision: 'micro', noChecksums: false });
    expect(lines({ verbose: 2, linkHeader: true, quiet: true, timestamps: 4, hexAscii: 2, absoluteTcpSequenceNumbers: true, number: true, nano: true, dontVerifyChecksums: true })).toEqual({
      verbose: 2, link: true, quiet: true, timestamps: 4, dump: { kind: 'hex-ascii', withLink: true }, absoluteSeq: true, numbered: true, precision: 'nano', noChecksums: true,
    });
    expect(lines({ hex: 1 }).dump).toEqual({ kind: 'hex', withLink: false });
    expect(lines({ ascii: true }).dump).toEqual({ kind: 'ascii', withLink: false });
    expect(parseCaptureFlags({ read: 'a', write: 'b.pcap', print: true }).stdout.kind).toBe('lines');
    expect(parseCaptureFlags({ read: 'a', write: 'b.pcap' }).stdout.kind).toBe('none');
    expect(parseCaptureFlags({ read: 'a', countOnly: true }).stdout.kind).toBe('count');
    expect(parseCaptureFlags({ interface: ['eth0'], direction: 'in' }).capture.direction).toBe('in');
  });

  it.each([
    [{ read: 'a', hex: 1, ascii: true }, '-x, -A conflict'],
    [{ read: 'a', timestamps: 6 }, '-t is given at most 5 times'],
    [{ interface: ['lo'], countOnly: true }, '--count counts the packets of a file read with -r'],
    [{ read: 'a', print: true }, '--print prints packet lines while -w writes a file'],
    [{ read: 'a', write: '-', fileSize: '1' }, 'conflict with -w -'],
    [{ read: 'a', direction: 'in' }, '-Q selects the direction of live capture'],
    [{ interface: ['lo'], direction: 'both' }, '-Q takes in, out or inout'],
    [{ interface: ['lo'], listInterfaces: true, listDataLinkTypes: true }, '-D and -L conflict'],
    [{ read: 'a', listTimeStampTypes: true }, '-J lists what live interfaces offer and conflicts with -r'],
    [{ read: 'a', linktype: 'EN10MB' }, '-y EN10MB sets how a live interface captures and conflicts with -r'],
    [{ interface: ['lo'], linktype: 'ETHERNET2' }, '-y ETHERNET2: invalid data link type (-L lists an interface\'s)'],
    [{ interface: ['lo'], timeStampType: 'atomic' }, '-j atomic: invalid time stamp type (-J lists an interface\'s)'],
  ])('rejects tcpdump flags that conflict: %j', (flags, message) => {
    expect(() => parseCaptureFlags(flags)).toThrow(UsageError);
    expect(() => parseCaptureFlags(flags)).toThrow(message);
  });

  it.each([
    [{ interface: ['lo'], read: 'a' }, '-i and -r conflict'],
    [{ read: 'a', immediate: true }, 'conflict with -r'],
    [{ read: 'a', rotateSeconds: '5' }, 'need -w FILE'],
    [{ read: 'a', write: 'b', fileCount: '2' }, 'needs -C or -G'],
    [{ read: 'a', format: 'pcapng' }, '--format applies'],
    [{ read: 'a', write: 'a' }, 'would overwrite'],
    [{ read: 'a', count: '0' }, '-c must be between 1'],
    [{ read: 'a', duration: '-1' }, '--duration takes a positive number'],
  ])('rejects %j', (flags, message) => {
    expect(() => parseCaptureFlags(flags)).toThrow(UsageError);
    expect(() => parseCaptureFlags(flags)).toThrow(message);
  });

  it('-y and -j take libpcap\'s names in any case, as tcpdump; -D, -L and -J each ask for a list', () => {
    const run = parseCaptureFlags({ interface: ['any'], linktype: 'linux_sll', timeStampType: 'adapter_unsynced' });
    expect(run.capture.linkType).toBe(113);
    expect(run.capture.timeStampType).toBe(4); // PCAP_TSTAMP_ADAPTER_UNSYNCED
    expect(parseCaptureFlags({ interface: ['lo'] }).capture).toMatchObject({ linkType: undefined, timeStampType: undefined });
    expect(parseCaptureFlags({ listInterfaces: true }).listing).toBe('interfaces');
    expect(parseCaptureFlags({ interface: ['lo'], listDataLinkTypes: true }).listing).toBe('link-types');
    expect(parseCaptureFlags({ listTimeStampTypes: true }).listing).toBe('time-stamp-types');
    expect(parseCaptureFlags({ interface: ['lo'] }).listing).toBeUndefined();
  });

  it('-V reads its list of files as tcpdump does (blank lines and a CR at the end of a line aside); a list that names none, or names -, is one line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-filelist-'));
    try {
      const list = path.join(dir, 'list');
      fs.writeFileSync(list, 'a.pcap\r\n\nb dir/c.pcapng\nd.pcap');
      expect(parseCaptureFlags({ fileList: list }).capture.source).toEqual({ kind: 'file', path: 'a.pcap', morePaths: ['b dir/c.pcapng', 'd.pcap'] });
      fs.writeFileSync(list, 'only.pcap\n');
      expect(parseCaptureFlags({ fileList: list }).capture.source).toEqual({ kind: 'file', path: 'only.pcap' });
      expect(parseCaptureFlags({ fileList: list }).defaultInterface).toBe(false);
      expect(() => parseCaptureFlags({ fileList: list, write: 'only.pcap' })).toThrow('-w only.pcap would overwrite the file being read');
      expect(() => parseCaptureFlags({ fileList: list, read: 'x.pcap' })).toThrow(`-V ${list} and -r x.pcap conflict`);
      expect(() => parseCaptureFlags({ fileList: list, direction: 'in' })).toThrow('-Q selects the direction of live capture and conflicts with -V');
      fs.writeFileSync(list, '\n\n');
      expect(() => parseCaptureFlags({ fileList: list })).toThrow(`-V ${list}: names no file`);
      fs.writeFileSync(list, 'a.pcap\n-\n');
      expect(() => parseCaptureFlags({ fileList: list })).toThrow("'-' (standard input) cannot be one of the files of a list");
      expect(() => parseCaptureFlags({ fileList: path.join(dir, 'none') })).toThrow(`-V ${path.join(dir, 'none')}: no such file`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('several -r files (streams, analyze, shadow: tcpflow\'s repeatable -r) are one input read in turn, as a -V list', () => {
    expect(parseCaptureFlags({ read: ['a.pcap', 'b.pcapng'] }).capture.source).toEqual({ kind: 'file', path: 'a.pcap', morePaths: ['b.pcapng'] });
    expect(parseCaptureFlags({ read: ['a.pcap'] }).capture.source).toEqual({ kind: 'file', path: 'a.pcap' });
    expect(() => parseCaptureFlags({ read: ['a.pcap', '-'] })).toThrow('-r - (standard input) cannot be one of several -r files');
    expect(() => parseCaptureFlags({ read: ['a.pcap', ''] })).toThrow('-r needs a file name');
    expect(() => parseCaptureFlags({ read: ['a.pcap', 'b.pcap'], interface: ['lo'] })).toThrow('-i and -r conflict');
  });

  it('chooses the format from the extension', () => {
    expect(formatFromPath('a/b.pcapng')).toBe('pcapng');
    expect(formatFromPath('a/b.PCAPNG')).toBe('pcapng');
    expect(formatFromPath('a/b.pcap')).toBe('pcap');
    expect(formatFromPath('/dev/null')).toBe('pcap');
  });
});
