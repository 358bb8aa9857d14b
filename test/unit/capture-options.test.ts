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
    expect(run.capture.output).toEqual({ path: 'out.pcapng', format: 'pcapng', rotateBytes: undefined, rotateSeconds: undefined, rotateFiles: undefined, strftimeNames: false });
    expect(run.defaultInterface).toBe(false);
  });

  it('turns -C MB into bytes like tcpdump (millions of bytes)', () => {
    const run = parseCaptureFlags({ read: 'in.pcap', write: 'x.pcap', fileSize: '1.5', fileCount: '4' });
    expect(run.capture.output?.rotateBytes).toBe(1_500_000);
    expect(run.capture.output?.rotateFiles).toBe(4);
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
    expect(lines({})).toEqual({ verbose: 0, link: false, quiet: false, timestamps: 0, dump: undefined });
    expect(lines({ verbose: 2, linkHeader: true, quiet: true, timestamps: 4, hexAscii: 2 })).toEqual({
      verbose: 2, link: true, quiet: true, timestamps: 4, dump: { kind: 'hex-ascii', withLink: true },
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

  it('chooses the format from the extension', () => {
    expect(formatFromPath('a/b.pcapng')).toBe('pcapng');
    expect(formatFromPath('a/b.PCAPNG')).toBe('pcapng');
    expect(formatFromPath('a/b.pcap')).toBe('pcap');
    expect(formatFromPath('/dev/null')).toBe('pcap');
  });
});
