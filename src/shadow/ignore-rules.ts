// `--ignore RULE` as the CLI and the config file give it, parsed once into typed rules:
//   header:NAME    do not compare header (or trailer) NAME
//   !header:NAME   compare NAME although the default list ignores it (e.g. '!header:etag')
//   body:PATH      do not compare the JSON subtree at PATH ($.a.b, $.items[*].id, $..request_id);
//                  body:$ ignores the whole body, JSON or not
//   value:REGEX    mask what REGEX matches in header values, JSON strings and numbers, and text
//                  bodies before comparing (timestamps, ids embedded in values)
// (json:PATH and regex:REGEX are other names of body:PATH and value:REGEX.)
// A bad rule is an IgnoreRuleError naming the rule and what is wrong with it, in one line.
import { UsageError } from '../errors';
import { JsonPathError, parsePathPattern } from './json-path';

export type IgnoreRule =
  | { kind: 'header'; name: string }
  | { kind: 'compare-header'; name: string }
  | { kind: 'body'; path: string }
  | { kind: 'value'; regex: RegExp };

export class IgnoreRuleError extends UsageError {
  constructor(
    readonly rule: string,
    readonly reason: string,
  ) {
    super(`--ignore ${JSON.stringify(rule)}: ${reason}`);
  }
}

/** RFC 9110 token characters: what a header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const USAGE = 'expected header:NAME, !header:NAME, body:$.path or value:REGEX';

export function parseIgnoreRule(rule: string): IgnoreRule {
  const colon = rule.indexOf(':');
  if (colon < 0) throw new IgnoreRuleError(rule, USAGE);
  const kind = rule.slice(0, colon);
  const arg = rule.slice(colon + 1);
  // json: and regex: are accepted as other names of body: and value:.
  switch (kind === 'json' ? 'body' : kind === 'regex' ? 'value' : kind) {
    case 'header':
    case '!header': {
      if (!TOKEN.test(arg)) throw new IgnoreRuleError(rule, arg ? `"${arg}" is not a header name` : 'the header name is empty');
      return { kind: kind === '!header' ? 'compare-header' : 'header', name: arg.toLowerCase() };
    }
    case 'body':
      try {
        parsePathPattern(arg);
      } catch (err) {
        if (err instanceof JsonPathError) throw new IgnoreRuleError(rule, `${err.reason} at character ${err.position + 1} of the path`);
        throw err;
      }
      return { kind: 'body', path: arg };
    case 'value': {
      if (!arg) throw new IgnoreRuleError(rule, 'the regular expression is empty');
      let regex: RegExp;
      try {
        regex = new RegExp(arg);
      } catch (err) {
        throw new IgnoreRuleError(rule, (err as Error).message.replace(/^Invalid regular expression: /, 'invalid regular expression: '));
      }
      // One that matches nothing at all would mask nothing while looking like it does something.
      if (regex.test('')) throw new IgnoreRuleError(rule, 'the regular expression matches the empty string');
      return { kind: 'value', regex };
    }
    default:
      throw new IgnoreRuleError(rule, kind ? `unknown kind "${kind}"; ${USAGE}` : USAGE);
  }
}

export function parseIgnoreRules(rules: readonly string[]): IgnoreRule[] {
  return rules.map(parseIgnoreRule);
}
