// `podspan shadow` flags: defaults, and one line naming the flag for each bad value.
import { describe, expect, it } from 'vitest';
import { http1TransportFromEnv, parseShadowFlags } from '../../src/config/shadow-options';
import { UsageError } from '../../src/errors';

const parse = (f: Record<string, unknown>) => parseShadowFlags({ read: 'in.pcap', target: 'http://candidate:8080', ...f } as never);
const refused = (f: Record<string, unknown>) => {
  try {
    parse(f);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('podspan shadow flags', () => {
  it('defaults: GET/HEAD/OPTIONS, the marker header, original pacing, 5 s timeout, bounded queue', () => {
    const r = parse({});
    expect(r.protocol).toBe('http');
    expect(r.methods).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(r.marker).toEqual(['x-podspan-shadow', '1']);
    expect(r.target).toEqual({ url: 'http://candidate:8080', origin: 'http://candidate:8080', host: 'candidate', port: 8080, tls: false });
    expect(r.limits).toEqual({ ratePerSecond: undefined, speed: 1, maxInFlight: 64, queueExchanges: 10_000, queueBytes: 256 << 20, timeoutMs: 5000 });
    expect(r.percent).toBe(100);
    expect(r.capture.source).toEqual({ kind: 'file', path: 'in.pcap' });
  });

  it('--nice: the replay\'s priority, 19 live and 0 from a file unless given; 0-19 only', () => {
    expect(parse({}).replayNice).toBe(0);
    expect(parse({ read: undefined, interface: ['eth0'] }).replayNice).toBe(19);
    expect(parse({ read: undefined, interface: ['eth0'], nice: '5' }).replayNice).toBe(5);
    expect(parse({ nice: '19' }).replayNice).toBe(19);
    expect(refused({ nice: '20' })).toBe('--nice must be between 0 and 19');
    expect(refused({ nice: '-1' })).toBe('--nice takes a whole number');
  });

  it('takes every flag', () => {
    const r = parse({
      target: 'https://[::1]', primary: 'http://primary', methods: 'get,post', percent: '12.5', rate: '200', speed: '0', ignore: ['header:x-a', 'body:$.id'],
      report: 'out', markerHeader: 'X-Shadow: yes', host: 'api.example:80', timeout: '0.5', maxInFlight: '8', queue: '100', serverPort: ['8080', '9090'],
    });
    expect(r.target).toMatchObject({ origin: 'https://[::1]', host: '::1', port: 443, tls: true });
    expect(r.primary?.origin).toBe('http://primary');
    expect(r.methods).toEqual(['GET', 'POST']);
    expect([r.percent, r.limits.ratePerSecond, r.limits.speed, r.limits.timeoutMs, r.limits.maxInFlight, r.limits.queueExchanges]).toEqual([12.5, 200, 0, 500, 8, 100]);
    expect(r.ignore).toHaveLength(2);
    expect([r.reportDir, r.marker, r.hostRewrite, r.serverPorts]).toEqual(['out', ['x-shadow', 'yes'], 'api.example:80', [8080, 9090]]);
    expect(parse({ markerHeader: 'none' }).marker).toBeUndefined();
    const raw = parse({ protocol: 'raw', target: 'tcp://redis:6379', serverPort: ['6379'] });
    expect([raw.protocol, raw.target.port, raw.methods, raw.marker]).toEqual(['raw', 6379, [], undefined]);
  });

  it('refuses bad values with one line naming the flag', () => {
    expect(refused({ target: undefined })).toMatch(/^--target URL is required/);
    expect(refused({ target: 'ftp://x' })).toMatch(/^--target ftp:\/\/x: --protocol http takes http:\/\/ or https:\/\//);
    expect(refused({ target: 'http://x/api' })).toMatch(/^--target http:\/\/x\/api: give only scheme, host and port/);
    expect(refused({ primary: 'http://candidate:8080' })).toMatch(/^--primary .* is the same as --target/);
    expect(refused({ protocol: 'udp' })).toBe('--protocol takes http or raw');
    expect(refused({ protocol: 'raw', target: 'tcp://r:1' })).toMatch(/^--protocol raw needs --server-port/);
    expect(refused({ protocol: 'raw', target: 'http://r:1', serverPort: ['1'] })).toMatch(/^--target http:\/\/r:1: --protocol raw takes tcp:\/\//);
    expect(refused({ serverPort: ['70000'] })).toMatch(/^--server-port 70000/);
    expect(refused({ methods: 'GET,P0ST' })).toBe('--methods: P0ST is not an HTTP method');
    expect(refused({ percent: '101' })).toBe('--percent must be between 0 and 100');
    expect(refused({ rate: 'fast' })).toBe('--rate takes a number');
    expect(refused({ speed: '-1' })).toBe('--speed takes a number');
    expect(refused({ read: undefined, interface: ['eth0'], speed: '1' })).toMatch(/^--speed paces replay from a file/);
    expect(refused({ read: undefined, fileList: '/nonexistent/list', speed: '1' })).toBe('-V /nonexistent/list: no such file'); // -V is a file source for --speed
    expect(refused({ ignore: ['cookie'] })).toMatch(/^--ignore "cookie"/);
    expect(refused({ markerHeader: 'no colon' })).toMatch(/^--marker-header no colon: takes NAME: VALUE/);
    expect(refused({ host: 'a b' })).toMatch(/^--host a b/);
    expect(refused({ timeout: '0' })).toBe('--timeout must be between 0.001 and 3600');
    expect(refused({ maxInFlight: '0' })).toBe('--max-in-flight must be between 1 and 100000');
    expect(refused({ queue: 'x' })).toBe('--queue takes a whole number');
    expect(refused({ interface: ['eth0'] })).toMatch(/^-i and -r conflict/);
  });

  it('PODSPAN_SHADOW_HTTP1: native by default, undici on request, anything else one line naming it', () => {
    expect(http1TransportFromEnv({})).toBe('native');
    expect(http1TransportFromEnv({ PODSPAN_SHADOW_HTTP1: 'native' })).toBe('native');
    expect(http1TransportFromEnv({ PODSPAN_SHADOW_HTTP1: 'undici' })).toBe('undici');
    expect(() => http1TransportFromEnv({ PODSPAN_SHADOW_HTTP1: 'curl' })).toThrow(UsageError);
    expect(() => http1TransportFromEnv({ PODSPAN_SHADOW_HTTP1: 'curl' })).toThrow('PODSPAN_SHADOW_HTTP1=curl: expected native or undici');
  });
});
