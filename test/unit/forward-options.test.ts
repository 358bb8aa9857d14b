import { describe, expect, it } from 'vitest';
import { parseCaptureFlags } from '../../src/config/capture-options';
import { parseForwardTarget } from '../../src/config/forward-options';
import { ForwardError, UsageError } from '../../src/errors';
import { resolveTargets } from '../../src/forward/resolve';

describe('--forward targets', () => {
  it('reads a VXLAN URL with defaults and every parameter', () => {
    expect(parseForwardTarget('vxlan://10.0.0.9?vni=42')).toEqual({
      kind: 'vxlan', url: 'vxlan://10.0.0.9?vni=42', host: '10.0.0.9', port: 4789, vni: 42, truncate: undefined, mtu: 1500, oversize: 'fragment', sourcePorts: 16,
    });
    expect(parseForwardTarget('vxlan://[fd00::9]:8472?vni=7&truncate=128&mtu=9000&oversize=truncate&ports=4')).toMatchObject({
      host: 'fd00::9', port: 8472, vni: 7, truncate: 128, mtu: 9000, oversize: 'truncate', sourcePorts: 4,
    });
  });

  it('reads a GENEVE URL: port 6081 by default, the VXLAN parameters, and session for the podspan option', () => {
    expect(parseForwardTarget('geneve://10.0.0.9?vni=42')).toEqual({
      kind: 'geneve', url: 'geneve://10.0.0.9?vni=42', host: '10.0.0.9', port: 6081, vni: 42, session: undefined, truncate: undefined, mtu: 1500, oversize: 'fragment', sourcePorts: 16,
    });
    expect(parseForwardTarget('geneve://[fd00::9]:7000?vni=16777215&session=4294967295&truncate=128&mtu=9000&oversize=truncate&ports=4')).toMatchObject({
      kind: 'geneve', host: 'fd00::9', port: 7000, vni: 0xffffff, session: 0xffffffff, truncate: 128, mtu: 9000, oversize: 'truncate', sourcePorts: 4,
    });
  });

  it('reads a GRE URL: no key, no sequence by default; key, seq and the truncation parameters', () => {
    expect(parseForwardTarget('gre://10.0.0.9')).toEqual({
      kind: 'gre', url: 'gre://10.0.0.9', host: '10.0.0.9', key: undefined, sequence: false, truncate: undefined, mtu: 1500, oversize: 'fragment',
    });
    expect(parseForwardTarget('gre://[fd00::9]?key=7')).toMatchObject({ kind: 'gre', host: 'fd00::9', key: 7 });
    expect(parseForwardTarget('erspan://10.0.0.9')).toEqual({
      kind: 'erspan', url: 'erspan://10.0.0.9', host: '10.0.0.9', version: 2, session: 0, hwid: 0, truncate: undefined, mtu: 1500, oversize: 'fragment',
    });
    expect(parseForwardTarget('erspan://[fd00::9]?session=1023&version=3&hwid=63&truncate=128&mtu=9000&oversize=truncate')).toMatchObject({
      kind: 'erspan', host: 'fd00::9', version: 3, session: 1023, hwid: 63, truncate: 128, mtu: 9000, oversize: 'truncate',
    });
    expect(parseForwardTarget('gre://collector?key=4294967295&seq=1&truncate=96&mtu=9000&oversize=truncate')).toMatchObject({
      kind: 'gre', host: 'collector', key: 0xffffffff, sequence: true, truncate: 96, mtu: 9000, oversize: 'truncate',
    });
  });

  it.each([
    ['geneve://10.0.0.9?vni=16777216', /vni must be between 0 and 16777215/],
    ['geneve://10.0.0.9?session=4294967296', /session must be between 0 and 4294967295/],
    ['geneve://10.0.0.9?session=-1', /session takes a whole number/],
    ['vxlan://10.0.0.9?session=1', /unknown parameter session/],
    ['geneve://10.0.0.9?key=1', /unknown parameter key/],
    ['gre://10.0.0.9:47?key=1', /GRE has no port/],
    ['gre://10.0.0.9?key=4294967296', /key must be between 0 and 4294967295/],
    ['gre://10.0.0.9?seq=yes', /seq takes 0 or 1/],
    ['gre://10.0.0.9?vni=1', /unknown parameter vni/],
    ['erspan://10.0.0.9:47', /ERSPAN goes over GRE, which has no port/],
    ['erspan://10.0.0.9?session=1024', /session must be between 0 and 1023/],
    ['erspan://10.0.0.9?version=1', /version takes 2 \(type II\) or 3 \(type III\)/],
    ['erspan://10.0.0.9?hwid=64', /hwid must be between 0 and 63/],
    ['erspan://10.0.0.9?key=1', /unknown parameter key/],
    ['span://10.0.0.9', /unknown scheme span \(vxlan, geneve, gre, erspan or grpc\)/],
    ['collector:4789', /not a URL|unknown scheme/],
    ['http://x:80', /unknown scheme http/],
    ['vxlan://10.0.0.9?vni=16777216', /vni must be between 0 and 16777215/],
    ['vxlan://10.0.0.9?vni=abc', /vni takes a whole number/],
    ['vxlan://10.0.0.9?oversize=drop', /oversize must be fragment or truncate/],
    ['vxlan://10.0.0.9?color=red', /unknown parameter color/],
    ['grpc://10.0.0.9:50051?streams=0', /streams must be between 1 and 8/],
    ['grpc://10.0.0.9:50051?streams=two', /streams takes a whole number/],
  ])('refuses %s naming the problem', (url, message) => {
    expect(() => parseForwardTarget(url)).toThrow(UsageError);
    expect(() => parseForwardTarget(url)).toThrow(message);
  });

  it('reads a gRPC URL: one stream by default, streams=N for several', () => {
    expect(parseForwardTarget('grpc://10.0.0.9:50051')).toMatchObject({ kind: 'grpc', host: '10.0.0.9', port: 50051, streams: 1 });
    expect(parseForwardTarget('grpc://10.0.0.9:50051?streams=4')).toMatchObject({ streams: 4 });
  });

  it('rides on the capture flags, repeatable', () => {
    const run = parseCaptureFlags({ interface: ['eth0'], forward: ['vxlan://10.0.0.1?vni=1', 'vxlan://10.0.0.2?vni=2'] });
    expect(run.capture.forward?.map((t) => (t.kind === 'vxlan' ? t.vni : -1))).toEqual([1, 2]);
  });

  it('resolves names once and names a target that does not resolve', async () => {
    const [t] = await resolveTargets([parseForwardTarget('vxlan://localhost?vni=1')]);
    expect(t.host).toMatch(/^(127\.0\.0\.1|::1)$/);
    await expect(resolveTargets([parseForwardTarget('vxlan://no-such-host.invalid?vni=1')])).rejects.toThrow(ForwardError);
  });
});
