// `--ignore RULE` parsing: each accepted form gives its typed rule; each bad one a UsageError whose
// one-line message names the rule and what is wrong; JSON path patterns match the paths they say.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors';
import { formatPath, parsePathPattern, pathMatches, type PathStep } from '../../src/shadow/json-path';
import { IgnoreRuleError, parseIgnoreRule, parseIgnoreRules } from '../../src/shadow/ignore-rules';
import { compareRules, DEFAULT_IGNORED_HEADERS, ignoredHeaders } from '../../src/shadow/compare';
import { ShadowReport } from '../../src/shadow/report';

describe('parseIgnoreRule', () => {
  it('parses the four kinds', () => {
    expect(parseIgnoreRule('header:X-Request-Trace')).toEqual({ kind: 'header', name: 'x-request-trace' });
    expect(parseIgnoreRule('!header:ETag')).toEqual({ kind: 'compare-header', name: 'etag' });
    expect(parseIgnoreRule('body:$.items[*].price')).toEqual({ kind: 'body', path: '$.items[*].price' });
    expect(parseIgnoreRule("body:$['a b'][0]..id")).toEqual({ kind: 'body', path: "$['a b'][0]..id" });
    const v = parseIgnoreRule('value:\\d{4}-\\d{2}-\\d{2}');
    expect(v.kind === 'value' && v.regex.source).toBe('\\d{4}-\\d{2}-\\d{2}');
  });

  it.each([
    ['', '--ignore "": expected header:NAME, !header:NAME, body:$.path or value:REGEX'],
    ['date', '--ignore "date": expected header:NAME, !header:NAME, body:$.path or value:REGEX'],
    ['cookie:x', '--ignore "cookie:x": unknown kind "cookie"; expected header:NAME, !header:NAME, body:$.path or value:REGEX'],
    ['header:', '--ignore "header:": the header name is empty'],
    ['header:x y', '--ignore "header:x y": "x y" is not a header name'],
    ['body:items', '--ignore "body:items": expected "$" at character 1 of the path'],
    ['body:$.items[', '--ignore "body:$.items[": expected an index, * or a quoted name at character 9 of the path'],
    ['body:$.items[1', '--ignore "body:$.items[1": expected "]" at character 10 of the path'],
    ["body:$['a", '--ignore "body:$[\'a": unclosed \' at character 5 of the path'],
    ['body:$.', '--ignore "body:$.": expected a member name at character 3 of the path'],
    ['body:$..', '--ignore "body:$..": expected a member name at character 4 of the path'],
    ['body:$x', '--ignore "body:$x": unexpected "x" at character 2 of the path'],
    ['value:', '--ignore "value:": the regular expression is empty'],
    ['value:a*', '--ignore "value:a*": the regular expression matches the empty string'],
    ['value:(', '--ignore "value:(": invalid regular expression: /(/: Unterminated group'],
  ])('rejects %j in one line naming it', (rule, message) => {
    let err: unknown;
    try {
      parseIgnoreRule(rule);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IgnoreRuleError);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as IgnoreRuleError).code).toBe('ERR_USAGE');
    expect((err as IgnoreRuleError).rule).toBe(rule);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toContain('\n');
  });

  it('parseIgnoreRules stops at the first bad rule, naming it', () => {
    expect(() => parseIgnoreRules(['header:a', 'body:$.ok', 'nope'])).toThrow('--ignore "nope"');
  });
});

describe('compareRules', () => {
  it('collects what the rules add to and remove from the defaults', () => {
    const r = compareRules(parseIgnoreRules(['header:X-Build', '!header:etag', 'body:$.ts', 'value:\\d+']));
    expect(r).toEqual({ ignoreHeaders: ['x-build'], compareHeaders: ['etag'], ignoreJsonPaths: ['$.ts'], ignoreValueRegex: [/\d+/] });
    const names = ignoredHeaders(r);
    expect(names.has('x-build')).toBe(true);
    expect(names.has('etag')).toBe(false);
    expect(names.size).toBe(DEFAULT_IGNORED_HEADERS.length);
    expect([...ignoredHeaders(compareRules())]).toEqual([...DEFAULT_IGNORED_HEADERS]);
  });

  it('accepts json: and regex: as other names of body: and value:', () => {
    expect(parseIgnoreRule('json:$.a[*]')).toEqual({ kind: 'body', path: '$.a[*]' });
    expect(parseIgnoreRule('regex:\\d+')).toMatchObject({ kind: 'value' });
    expect(() => parseIgnoreRule('json:a')).toThrow('--ignore "json:a": expected "$" at character 1 of the path');
  });

  it('hand-made rules get the defaults too; a bad JSON path stops ShadowReport when made', () => {
    const bare = { ignoreHeaders: ['x-build'], ignoreJsonPaths: [], ignoreValueRegex: [] };
    expect([...ignoredHeaders(bare)]).toEqual([...DEFAULT_IGNORED_HEADERS, 'x-build']);
    expect(() => new ShadowReport({ maxRoutes: 1, rules: { ...bare, ignoreJsonPaths: ['$.a['] } })).toThrow(UsageError);
    expect(() => new ShadowReport({ maxRoutes: 1, rules: { ...bare, ignoreJsonPaths: ['$.a['] } })).toThrow('JSON path "$.a[": expected an index, * or a quoted name at character 5');
  });
});

describe('JSON path patterns', () => {
  const m = (pattern: string, steps: PathStep[]) => pathMatches(parsePathPattern(pattern), steps);

  it('matches a path and everything under it', () => {
    expect(m('$.a.b', ['a', 'b'])).toBe(true);
    expect(m('$.a.b', ['a', 'b', 3, 'c'])).toBe(true);
    expect(m('$.a.b', ['a'])).toBe(false);
    expect(m('$.a.b', ['a', 'c'])).toBe(false);
    expect(m('$', [])).toBe(true);
  });

  it('[*] and .* match any one member or element; .. any depth', () => {
    expect(m('$.items[*].price', ['items', 3, 'price'])).toBe(true);
    expect(m('$.items[*].price', ['items', 3, 'sku'])).toBe(false);
    expect(m('$.items[2]', ['items', 3])).toBe(false);
    expect(m('$.*.v', ['meta', 'v'])).toBe(true);
    expect(m('$..id', ['a', 0, 'b', 'id'])).toBe(true);
    expect(m('$..id', ['id'])).toBe(true);
    expect(m('$..id', ['a', 'ids'])).toBe(false);
    expect(m('$..[0]', ['a', 0])).toBe(true);
    expect(m("$['a b'].c", ['a b', 'c'])).toBe(true);
    expect(m('$["q\\"x"]', ['q"x'])).toBe(true);
  });

  it('formats paths as they are matched', () => {
    expect(formatPath(['items', 3, 'price'])).toBe('$.items[3].price');
    expect(formatPath(['a b', "it's", 0])).toBe("$['a b']['it\\'s'][0]");
    expect(formatPath([])).toBe('$');
    for (const steps of [['items', 3, 'price'], ['a b', "it's", 0]] as PathStep[][]) expect(m(formatPath(steps), steps)).toBe(true);
  });
});
