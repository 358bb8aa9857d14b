// The storage tier's edges: --store URLs, --sse, the collector's flags with --store, export's
// times, selectors and pod matching, and the hour prefixes export lists.
import { describe, expect, it } from 'vitest';
import { parseCollectorFlags } from '../../src/config/collector-options';
import { interfaceMatches, parseSelector, parseTime } from '../../src/storage/export-query';
import { parseInterfaceName } from '../../src/storage/capture-index';
import { hoursInRange, keyHourInRange, objectKey, parseSse, parseStoreUrl, prefixesInRange } from '../../src/storage/store';

const base = { listen: '127.0.0.1:0', out: '/tmp/podspan-storage-options-unused' };

describe('--store and its flags', () => {
  it('parses s3://BUCKET/PREFIX and refuses what is not one', () => {
    expect(parseStoreUrl('--store', 's3://captures')).toEqual({ bucket: 'captures', prefix: '' });
    expect(parseStoreUrl('--store', 's3://captures/a/b/')).toEqual({ bucket: 'captures', prefix: 'a/b' });
    expect(() => parseStoreUrl('--store', 'http://x/y')).toThrow(/^--store http:\/\/x\/y: takes s3:\/\/BUCKET\/PREFIX/);
    expect(() => parseStoreUrl('--store', 's3://Bad_Bucket/x')).toThrow(/takes s3:\/\/BUCKET/);
    expect(() => parseStoreUrl('--store', 's3://bucket/a//b')).toThrow(/empty or '.'\/'..' part/);
    expect(() => parseStoreUrl('--store', 's3://bucket/a/../b')).toThrow(/empty or '.'\/'..' part/);
  });

  it('--sse takes AES256 or aws:kms[:KEY]', () => {
    expect(parseSse('--sse', 'AES256')).toEqual({ algorithm: 'AES256' });
    expect(parseSse('--sse', 'aws:kms:key-1')).toEqual({ algorithm: 'aws:kms', kmsKeyId: 'key-1' });
    expect(() => parseSse('--sse', 'rot13')).toThrow(/--sse rot13: takes AES256, aws:kms or aws:kms:KEY-ID/);
  });

  it('the collector: -G defaults to 3600 and may not exceed it, -W is refused, store flags need --store', () => {
    const o = parseCollectorFlags({ ...base, store: 's3://b1k/p', storeSpoolMb: '5', keepLocal: true });
    expect(o.rotation.rotateSeconds).toBe(3600);
    expect(o.store).toEqual({ options: { bucket: 'b1k', prefix: 'p', sse: undefined }, capBytes: 5_000_000, keepLocal: true, drainMs: 10_000, idleTimeoutMs: 30_000 });
    expect(parseCollectorFlags({ ...base, store: 's3://b1k/p', storeTimeout: '2.5' }).store?.idleTimeoutMs).toBe(2500);
    expect(() => parseCollectorFlags({ ...base, store: 's3://b1k/p', storeTimeout: '0' })).toThrow(/^--store-timeout: at least 1 second$/);
    expect(() => parseCollectorFlags({ ...base, storeTimeout: '5' })).toThrow(/^--store-timeout needs --store/);
    expect(parseCollectorFlags({ ...base, store: 's3://b1k/p', rotateSeconds: '60' }).rotation.rotateSeconds).toBe(60);
    expect(() => parseCollectorFlags({ ...base, store: 's3://b1k/p', rotateSeconds: '7200' })).toThrow(/-G with --store: at most 3600 seconds/);
    expect(() => parseCollectorFlags({ ...base, store: 's3://b1k/p', fileSize: '10', fileCount: '3' })).toThrow(/-W deletes files that may not be uploaded yet/);
    expect(() => parseCollectorFlags({ ...base, keepLocal: true })).toThrow(/^--keep-local needs --store/);
    expect(parseCollectorFlags(base).store).toBeUndefined();
  });
});

describe('keys and hours', () => {
  const t = Date.parse('2026-01-31T23:59:59.999Z');
  it('files a capture under the UTC hour of its first packet and its node', () => {
    expect(objectKey('caps', t, 'node-1', 'x.pcapng')).toBe('caps/2026/01/31/23/node-1/x.pcapng');
    expect(objectKey('', t, 'we/ird node', 'x.pcapng')).toBe('2026/01/31/23/we_ird_node/x.pcapng');
  });
  it('lists every hour from the one holding the start to the one holding the end', () => {
    expect(hoursInRange('p', t - 3_600_000, t + 1)).toEqual(['p/2026/01/31/22/', 'p/2026/01/31/23/', 'p/2026/02/01/00/']);
  });
  it('lists by hour for up to two days, then by day, month and year: a range of years is a few requests, not one per hour', () => {
    const h = 3_600_000;
    expect(prefixesInRange('p', t - h, t + 1)).toEqual({ prefixes: hoursInRange('p', t - h, t + 1), hourly: true });
    expect(prefixesInRange('p', t - 47 * h, t).prefixes).toHaveLength(48);
    expect(prefixesInRange('p', t - 3 * 24 * h, t + 1)).toEqual({ prefixes: ['p/2026/01/28/', 'p/2026/01/29/', 'p/2026/01/30/', 'p/2026/01/31/', 'p/2026/02/01/'], hourly: false });
    expect(prefixesInRange('', Date.parse('2025-11-15T00:00:00Z'), t).prefixes).toEqual(['2025/11/', '2025/12/', '2026/01/']);
    expect(prefixesInRange('p', Date.parse('2000-01-01T00:00:00Z'), t).prefixes).toEqual(Array.from({ length: 27 }, (_, i) => `p/${2000 + i}/`));
    expect(prefixesInRange('p', 0, Date.parse('9999-12-31T23:00:00Z')).prefixes).toHaveLength(8030);
  });
  it('keeps the keys of the hours asked for, and of the node', () => {
    const from = Date.parse('2026-01-31T22:30:00Z');
    const to = Date.parse('2026-02-01T00:10:00Z');
    expect(keyHourInRange('p', 'p/2026/01/31/22/node-1/x.pcapng', from, to)).toBe(true); // the hour holding the start
    expect(keyHourInRange('p', 'p/2026/01/31/21/node-1/x.pcapng', from, to)).toBe(false);
    expect(keyHourInRange('p', 'p/2026/02/01/00/node-1/x.pcapng', from, to)).toBe(true);
    expect(keyHourInRange('p', 'p/2026/02/01/01/node-1/x.pcapng', from, to)).toBe(false);
    expect(keyHourInRange('p', 'p/2026/02/01/00/node-1/x.pcapng', from, to, 'node-2')).toBe(false);
    expect(keyHourInRange('p/q', 'p/q/2026/02/01/00/we_ird_node/x.pcapng', from, to, 'we/ird node')).toBe(true);
    expect(keyHourInRange('p', 'p/stray.txt', from, to)).toBe(false);
  });
});

describe('export selection', () => {
  it('parses absolute and relative times', () => {
    const now = Date.parse('2026-01-31T12:00:00Z');
    expect(parseTime('--since', '2026-01-31T11:00:00Z', now)).toBe(BigInt(now - 3_600_000) * 1_000_000n);
    expect(parseTime('--since', '-10m', now)).toBe(BigInt(now - 600_000) * 1_000_000n);
    expect(parseTime('--until', 'now', now)).toBe(BigInt(now) * 1_000_000n);
    expect(() => parseTime('--since', 'yesterday', now)).toThrow(/^--since yesterday: not a time/);
    expect(() => parseTime('--since', '-99999999999999h', now)).toThrow('--since -99999999999999h: before 1970 or after 9999');
    expect(() => parseTime('--until', '1969-12-31T23:59:59Z', now)).toThrow('before 1970 or after 9999');
  });
  it('matches pods by namespace, name, labels and node', () => {
    const i = { index: 0, name: 'n1/shop/cart-1/eth0', packets: 1, bytes: 1, ...parseInterfaceName('n1/shop/cart-1/eth0', 'node n1, pod shop/cart-1, interface eth0, labels app=cart,tier=web') };
    expect(i).toMatchObject({ node: 'n1', namespace: 'shop', pod: 'cart-1', interface: 'eth0', labels: { app: 'cart', tier: 'web' } });
    const f = { pods: [], selector: {} };
    expect(interfaceMatches(i, { ...f, namespace: 'shop', pods: ['cart-1', 'cart-2'] })).toBe(true);
    expect(interfaceMatches(i, { ...f, selector: parseSelector(['app=cart,tier=web']) })).toBe(true);
    expect(interfaceMatches(i, { ...f, selector: { app: 'web' } })).toBe(false);
    expect(interfaceMatches(i, { ...f, node: 'n2' })).toBe(false);
    expect(interfaceMatches(i, { ...f, namespace: 'other' })).toBe(false);
    expect(() => parseSelector(['app'])).toThrow(/--selector app: takes KEY=VALUE/);
  });
});
