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
    expect(run.capture.output).toEqual({ path: 'out.pcapng', format: 'pcapng', rotateBytes: undefined, rotateSeconds: undefined, rotateFiles: undefined });
    expect(run.defaultInterface).toBe(false);
  });

  it('turns -C MB into bytes like tcpdump (millions of bytes)', () => {
    const run = parseCaptureFlags({ read: 'in.pcap', write: 'x.pcap', fileSize: '1.5', fileCount: '4' });
    expect(run.capture.output?.rotateBytes).toBe(1_500_000);
    expect(run.capture.output?.rotateFiles).toBe(4);
  });

  it('picks the default interface when neither -i nor -r is given', () => {
    expect(parseCaptureFlags({}).defaultInterface).toBe(true);
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
