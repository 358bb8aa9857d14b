// compareAnswers on hand-made answers: the exact list of differences (where, both values, offset)
// for status, headers (default ignore list, case, multiple values, Set-Cookie names), JSON bodies
// field by field, text and binary bodies whole, truncated bodies, gRPC and raw turns, and the cap.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Answer } from '../../src/shadow/answer';
import { compareAnswers, compareExchange, compareRules, digestOf } from '../../src/shadow/compare';
import { parseIgnoreRules } from '../../src/shadow/ignore-rules';

const json = (v: unknown, extra: Partial<Answer> = {}): Answer => answer(JSON.stringify(v), { headers: [['Content-Type', 'application/json']], ...extra });
function answer(body: string | Buffer, extra: Partial<Answer> = {}): Answer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return { status: 200, headers: [], body: b, bodyLength: b.length, bodyTruncated: false, ...extra };
}
const rules = (...r: string[]) => compareRules(parseIgnoreRules(r));

describe('status and headers', () => {
  it('another server\'s framing and ignored headers around the same compared ones: equal, without the full comparison', () => {
    // Production from one server software, the candidate from another (what the benchmark replays).
    const p = answer('x', { headers: [['content-type', 'text/plain'], ['Date', 'd1'], ['Connection', 'keep-alive'], ['Keep-Alive', 'timeout=5'], ['Transfer-Encoding', 'chunked']] });
    const c = answer('x', { headers: [['Content-Type', ' text/plain'], ['Date', 'd2'], ['Content-Length', '1']] });
    expect(compareAnswers(p, c, rules())).toEqual([]);
    // One compared header more on either side, or a different value, is still found.
    expect(compareAnswers(p, answer('x', { headers: [...c.headers, ['X-Extra', '1']] }), rules())).toEqual([{ where: 'header:x-extra', production: '(absent)', candidate: '1' }]);
    expect(compareAnswers(answer('x', { headers: [['X-Extra', '1'], ...p.headers] }), c, rules())).toEqual([{ where: 'header:x-extra', production: '1', candidate: '(absent)' }]);
    expect(compareAnswers(p, answer('x', { headers: [['Content-Type', 'text/html']] }), rules())).toEqual([{ where: 'header:content-type', production: 'text/plain', candidate: 'text/html' }]);
    // The same fields in another order, and gRPC's status details, take the full comparison.
    const two = answer('x', { headers: [['A', '1'], ['B', '2']] });
    expect(compareAnswers(two, answer('x', { headers: [['b', '2'], ['a', '1']] }), rules())).toEqual([]);
    expect(compareAnswers(two, answer('x', { headers: [...two.headers, ['grpc-message', 'boom']] }), rules())).toEqual([{ where: 'trailer:grpc-message', production: '(absent)', candidate: 'boom' }]);
  });

  it('reports a status difference alone: the other answer kind is not compared further', () => {
    const p = json({ a: 1 }, { headers: [['Content-Type', 'application/json'], ['X-Version', '1']] });
    const c = answer('oops', { status: 500, headers: [['Content-Type', 'text/plain']] });
    expect(compareAnswers(p, c, rules())).toEqual([{ where: 'status', production: '200', candidate: '500' }]);
  });

  it('ignores the default headers, compares names case-insensitively and values in order', () => {
    const p = answer('x', {
      headers: [
        ['Date', 'Mon, 01 Jan 2024 00:00:00 GMT'],
        ['Server', 'a'],
        ['Content-Length', '1'],
        ['X-Request-Id', 'r1'],
        ['ETag', '"1"'],
        ['Vary', 'Accept'],
        ['Vary', 'Origin'],
        ['X-Feature', 'on'],
      ],
    });
    const c = answer('x', {
      headers: [
        ['date', 'Tue, 02 Jan 2024 00:00:00 GMT'],
        ['server', 'b'],
        ['transfer-encoding', 'chunked'],
        ['x-request-id', 'r2'],
        ['etag', '"2"'],
        ['vary', 'Origin'],
        ['vary', 'Accept'],
        ['x-feature', 'on'],
        ['X-New', '1'],
      ],
    });
    expect(compareAnswers(p, c, rules())).toEqual([
      { where: 'header:vary', production: 'Accept, Origin', candidate: 'Origin, Accept' },
      { where: 'header:x-new', production: '(absent)', candidate: '1' },
    ]);
  });

  it('the same names in the same order: ignored values may differ, any other value is reported as in any order', () => {
    const headers = (date: string, version: string, status: string): [string, string][] => [
      ['Date', date],
      ['Content-Type', 'text/plain'],
      ['X-Version', version],
      ['grpc-status', status],
    ];
    const p = answer('x', { headers: headers('Mon, 01 Jan 2024 00:00:00 GMT', '1', '0') });
    expect(compareAnswers(p, answer('x', { headers: headers('Tue, 02 Jan 2024 00:00:00 GMT', '1', '0') }), rules())).toEqual([]);
    expect(compareAnswers(p, answer('x', { headers: headers('Tue, 02 Jan 2024 00:00:00 GMT', '2', '0') }), rules())).toEqual([
      { where: 'header:x-version', production: '1', candidate: '2' },
    ]);
    // grpc-status is compared apart, even where a rule ignores a header of that name.
    expect(compareAnswers(p, answer('x', { headers: headers('Mon, 01 Jan 2024 00:00:00 GMT', '1', '5') }), rules('header:grpc-status'))).toEqual([
      { where: 'grpc-status', production: '0', candidate: '5' },
    ]);
    // A rule that ignores a name lets its values differ; one that compares a default name does not.
    expect(compareAnswers(p, answer('x', { headers: headers('Mon, 01 Jan 2024 00:00:00 GMT', '2', '0') }), rules('header:X-Version'))).toEqual([]);
    expect(compareAnswers(p, answer('x', { headers: headers('Tue, 02 Jan 2024 00:00:00 GMT', '1', '0') }), rules('!header:date'))).toEqual([
      { where: 'header:date', production: 'Mon, 01 Jan 2024 00:00:00 GMT', candidate: 'Tue, 02 Jan 2024 00:00:00 GMT' },
    ]);
  });

  it('reports a header missing on the candidate', () => {
    expect(compareAnswers(answer('', { headers: [['Cache-Control', 'no-store']] }), answer(''), rules())).toEqual([
      { where: 'header:cache-control', production: 'no-store', candidate: '(absent)' },
    ]);
  });

  it('compares Set-Cookie by cookie names, not values', () => {
    const p = answer('', { headers: [['Set-Cookie', 'sid=abc; Path=/'], ['Set-Cookie', 'theme=dark']] });
    const same = answer('', { headers: [['set-cookie', 'sid=zzz; Path=/'], ['set-cookie', 'theme=light']] });
    const other = answer('', { headers: [['set-cookie', 'session=zzz; Path=/'], ['set-cookie', 'theme=light']] });
    expect(compareAnswers(p, same, rules())).toEqual([]);
    expect(compareAnswers(p, other, rules())).toEqual([{ where: 'header:set-cookie', production: 'sid, theme', candidate: 'session, theme' }]);
  });

  it('adds and removes ignored headers by rule; masks values by regex', () => {
    const p = answer('', { headers: [['ETag', '"1"'], ['X-Build', 'abc'], ['X-Ts', 't=1700000000 ok']] });
    const c = answer('', { headers: [['ETag', '"2"'], ['X-Build', 'def'], ['X-Ts', 't=1700000555 ok']] });
    expect(compareAnswers(p, c, rules())).toEqual([
      { where: 'header:x-build', production: 'abc', candidate: 'def' },
      { where: 'header:x-ts', production: 't=1700000000 ok', candidate: 't=1700000555 ok' },
    ]);
    expect(compareAnswers(p, c, rules('!header:ETag', 'header:x-build', 'value:\\d{10}'))).toEqual([
      { where: 'header:etag', production: '"1"', candidate: '"2"' },
    ]);
  });

  it('skips HTTP/2 pseudo-headers (the status is compared as status)', () => {
    const p = answer('', { headers: [[':status', '200'], ['content-type', 'text/plain']] });
    const c = answer('', { headers: [[':status', '200'], ['content-type', 'text/html']] });
    expect(compareAnswers(p, c, rules())).toEqual([{ where: 'header:content-type', production: 'text/plain', candidate: 'text/html' }]);
  });
});

describe('JSON bodies', () => {
  const prod = { id: 7, name: 'a', items: [{ sku: 'x', price: 1 }, { sku: 'y', price: 2 }, { sku: 'z', price: 3 }, { sku: 'w', price: 4 }], tags: ['a'], meta: { v: 1 } };

  it('names each differing field by path: value, type, missing, added, array length', () => {
    const cand = structuredClone(prod) as Record<string, any>;
    cand.items[3].price = 5;
    cand.name = 1;
    delete cand.meta.v;
    cand.meta.w = true;
    cand.tags.push('b');
    cand['odd key'] = null;
    expect(compareAnswers(json(prod), json(cand), rules())).toEqual([
      { where: 'body:$.name', production: '"a"', candidate: '1' },
      { where: 'body:$.items[3].price', production: '4', candidate: '5' },
      { where: 'body:$.tags', production: 'array of 1', candidate: 'array of 2' },
      { where: 'body:$.meta.v', production: '1', candidate: '(absent)' },
      { where: 'body:$.meta.w', production: '(absent)', candidate: 'true' },
      { where: "body:$['odd key']", production: '(absent)', candidate: 'null' },
    ]);
  });

  it('is equal when only key order or number spelling differs', () => {
    expect(compareAnswers(answer('{"a":1,"b":[1.0,2]}'), answer('{ "b": [1, 2e0], "a": 1 }'), rules())).toEqual([]);
  });

  it('parses bodies that look like JSON without a JSON Content-Type', () => {
    expect(compareAnswers(answer(' [1,2]'), answer('[1,3]'), rules())).toEqual([{ where: 'body:$[1]', production: '2', candidate: '3' }]);
  });

  it('ignores subtrees by path with [*], .* and .. wildcards', () => {
    const cand = structuredClone(prod) as Record<string, any>;
    cand.items.forEach((it: any) => (it.price += 10));
    cand.items[1].sku = 'Y';
    cand.meta.v = 2;
    expect(compareAnswers(json(prod), json(cand), rules('body:$.items[*].price', 'body:$.meta'))).toEqual([
      { where: 'body:$.items[1].sku', production: '"y"', candidate: '"Y"' },
    ]);
    expect(compareAnswers(json(prod), json(cand), rules('body:$..price', 'body:$.items[1]', 'body:$.*.v'))).toEqual([]);
    expect(compareAnswers(json(prod), json(cand), rules('body:$'))).toEqual([]);
  });

  it('masks string values by regex before comparing', () => {
    const p = json({ msg: 'req 5f1c9a20-aaaa-bbbb-cccc-0123456789ab ok', n: 1 });
    const c = json({ msg: 'req 00000000-1111-2222-3333-444444444444 ok', n: 2 });
    expect(compareAnswers(p, c, rules('value:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'))).toEqual([
      { where: 'body:$.n', production: '1', candidate: '2' },
    ]);
  });

  it('caps the differences per exchange and counts the rest', () => {
    const a = Array.from({ length: 300 }, (_, i) => i);
    const b = a.map((x) => x + 1);
    const r = compareExchange(json(a), json(b), compareRules([], { maxDifferences: 10 }));
    expect(r.differences.map((d) => d.where)).toEqual(Array.from({ length: 10 }, (_, i) => `body:$[${i}]`));
    expect(r.omitted).toBe(290);
  });

  it('falls back to whole-body comparison for nesting deeper than the bound', () => {
    const deep = (leaf: string) => '['.repeat(500) + leaf + ']'.repeat(500);
    const d = compareAnswers(answer(deep('1')), answer(deep('2')), rules());
    expect(d).toEqual([{ where: 'body', production: expect.stringMatching(/^sha256:/), candidate: expect.stringMatching(/^sha256:/), offset: 500 }]);
  });
});

describe('text, binary, truncated bodies', () => {
  it('compares text whole: digest, length and first differing offset', () => {
    const p = answer('hello world', { headers: [['Content-Type', 'text/plain']] });
    const c = answer('hello wurld!', { headers: [['Content-Type', 'text/plain']] });
    expect(compareAnswers(p, c, rules())).toEqual([
      { where: 'body', production: `sha256:${digestOf(p.body)} (11 bytes)`, candidate: `sha256:${digestOf(c.body)} (12 bytes)`, offset: 7 },
    ]);
  });

  it('reports where the shorter body ends when one is a prefix of the other', () => {
    expect(compareAnswers(answer(Buffer.from([1, 2, 3])), answer(Buffer.from([1, 2, 3, 4])), rules())[0].offset).toBe(3);
  });

  it('binary bodies are compared byte for byte', () => {
    const bin = (bytes: number[]) => answer(Buffer.from(bytes), { headers: [['Content-Type', 'application/octet-stream']] });
    expect(compareAnswers(bin([0, 1, 2, 0xff]), bin([0, 1, 2, 0xff]), rules())).toEqual([]);
    expect(compareAnswers(bin([0, 1, 2, 0xff]), bin([0, 1, 9, 0xff]), rules())).toEqual([expect.objectContaining({ where: 'body', offset: 2 })]);
  });

  it('masks text bodies by regex', () => {
    const t = (s: string) => answer(s, { headers: [['content-type', 'text/html; charset=utf-8']] });
    expect(compareAnswers(t('<p>built 2024-01-01T10:00:00Z</p>'), t('<p>built 2025-06-30T23:59:59Z</p>'), rules('value:\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z'))).toEqual([]);
  });

  it('truncated bodies: kept bytes compared, then whole lengths', () => {
    const kept = Buffer.from('{"a":"' + 'x'.repeat(50));
    const p = answer(kept, { bodyLength: 5000, bodyTruncated: true, headers: [['content-type', 'application/json']] });
    const sameLen = answer(kept, { bodyLength: 5000, bodyTruncated: true, headers: [['content-type', 'application/json']] });
    const longer = answer(kept, { bodyLength: 6000, bodyTruncated: true, headers: [['content-type', 'application/json']] });
    expect(compareAnswers(p, sameLen, rules())).toEqual([]);
    expect(compareAnswers(p, longer, rules())).toEqual([
      {
        where: 'body',
        production: `sha256:${digestOf(kept)} (5000 bytes, ${kept.length} kept)`,
        candidate: `sha256:${digestOf(kept)} (6000 bytes, ${kept.length} kept)`,
        offset: kept.length,
      },
    ]);
  });
});

describe('gRPC and raw', () => {
  const grpc = (status: number, msg: Buffer, message?: string): Answer =>
    answer(msg, { headers: [[':status', '200'], ['content-type', 'application/grpc']], trailers: [['grpc-status', String(status)], ...(message ? ([['grpc-message', message]] as [string, string][]) : [])], grpcStatus: status });

  it('compares grpc-status first, then trailers and message bytes', () => {
    const m = Buffer.from([0, 0, 0, 0, 2, 8, 1]);
    expect(compareAnswers(grpc(0, m), grpc(5, Buffer.alloc(0), 'not found'), rules())).toEqual([{ where: 'grpc-status', production: '0', candidate: '5' }]);
    expect(compareAnswers(grpc(0, m), grpc(0, m), rules())).toEqual([]);
    expect(compareAnswers(grpc(3, m, 'bad a'), grpc(3, Buffer.from([0, 0, 0, 0, 2, 8, 2]), 'bad b'), rules())).toEqual([
      { where: 'trailer:grpc-message', production: 'bad a', candidate: 'bad b' },
      expect.objectContaining({ where: 'body', offset: 6 }),
    ]);
  });

  it('reads grpc-status from trailers, or from headers of a trailers-only answer, when the field is absent', () => {
    const ok = answer('', { headers: [['content-type', 'application/grpc']], trailers: [['Grpc-Status', '0']] });
    const notFound = answer('', { headers: [['content-type', 'application/grpc'], ['grpc-status', '5']] });
    expect(compareAnswers(ok, notFound, rules())).toEqual([{ where: 'grpc-status', production: '0', candidate: '5' }]);
  });

  it('a trailers-only error and the same error in trailers are equal; grpc-message compared as a trailer either way', () => {
    const only = (msg: string) => answer('', { headers: [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '5'], ['grpc-message', msg]], grpcStatus: 5 });
    const late = (msg: string) => answer('', { headers: [[':status', '200'], ['content-type', 'application/grpc']], trailers: [['grpc-status', '5'], ['grpc-message', msg]], grpcStatus: 5 });
    expect(compareAnswers(only('no such user'), late('no such user'), rules())).toEqual([]);
    expect(compareAnswers(only('no such user'), late('user 7 not found'), rules())).toEqual([{ where: 'trailer:grpc-message', production: 'no such user', candidate: 'user 7 not found' }]);
  });

  it('raw turns are compared byte for byte under "turn", nothing else', () => {
    const p = answer('$5\r\nhello\r\n', { status: 0 });
    expect(compareAnswers(p, answer('$5\r\nhello\r\n', { status: 0 }), rules(), 'raw')).toEqual([]);
    expect(compareAnswers(p, answer('$5\r\nhallo\r\n', { status: 0 }), rules(), 'raw')).toEqual([
      { where: 'turn', production: `sha256:${digestOf(p.body)} (11 bytes)`, candidate: expect.stringMatching(/^sha256:[0-9a-f]{16} \(11 bytes\)$/), offset: 5 },
    ]);
  });
});

describe('content encodings', () => {
  const enc = (encoding: string, v: unknown, encode: (b: Buffer) => Buffer): Answer =>
    answer(encode(Buffer.from(JSON.stringify(v))), { headers: [['Content-Type', 'application/json'], ['Content-Encoding', encoding]] });

  it('compares gzip, deflate and br bodies decoded, field by field', () => {
    const cases: [string, (b: Buffer) => Buffer][] = [
      ['gzip', (b) => zlib.gzipSync(b)],
      ['deflate', (b) => zlib.deflateSync(b)],
      ['deflate', (b) => zlib.deflateRawSync(b)],
      ['br', (b) => zlib.brotliCompressSync(b)],
    ];
    for (const [name, f] of cases) {
      expect(compareAnswers(enc(name, { id: 'a1', price: 1 }, f), enc(name, { id: 'b2', price: 1 }, f), rules('body:$.id'))).toEqual([]);
      expect(compareAnswers(enc(name, { id: 'a1', price: 1 }, f), enc(name, { id: 'b2', price: 2 }, f), rules('body:$.id'))).toEqual([
        { where: 'body:$.price', production: '1', candidate: '2' },
      ]);
    }
  });

  it('a body that decodes past the bound, or does not decode, is compared as it came', () => {
    const bomb = zlib.gzipSync(Buffer.alloc(20 << 20));
    const p = answer(bomb, { headers: [['Content-Encoding', 'gzip']] });
    const c = answer(Buffer.concat([bomb.subarray(0, 100), Buffer.from([bomb[100] ^ 1]), bomb.subarray(101)]), { headers: [['Content-Encoding', 'gzip']] });
    expect(compareAnswers(p, c, rules())).toEqual([expect.objectContaining({ where: 'body', offset: 100, production: expect.stringContaining(`(${bomb.length} bytes)`) })]);
    const junk = (b: string) => answer(b, { headers: [['Content-Encoding', 'gzip']] });
    expect(compareAnswers(junk('not gzip'), junk('not gzip!'), rules())).toEqual([expect.objectContaining({ where: 'body', offset: 8 })]);
  });
});
