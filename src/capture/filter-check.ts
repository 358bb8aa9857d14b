// A BPF expression checked before the work that needs it begins: `podspan export` lists and
// fetches objects before it opens a capture, and the agent's config names filters its captures
// compile later; a mistyped filter must be refused then, not after the listing (nor pass
// unnoticed when nothing matched) or at each capture's start. The link types are not known
// yet, so the expression need only compile for one of those captures hold; each capture then
// compiles it for its own (`ether host` takes Ethernet only, and -i any is Linux cooked). The
// check is libpcap's compile without its optimiser; even so libpcap's time grows steeply with the
// terms (128 portranges ~0.25 s, 1,000 ports ~15 s), so callers check the size first
// (filter-limits.ts), and an answer is remembered: the agent validates every MirrorSession again
// whenever one changes, on its event loop.
import { FilterError } from '../errors';
import { native } from './native';

/** Ethernet, Linux cooked v1 and v2 (-i any), raw IP. */
const STORED_LINK_TYPES = [1, 113, 276, 101];

const answers = new Map<string, string | null>();
const MAX_ANSWERS = 256;

/** Throws a FilterError (libpcap's words) when `expression` compiles for none of those link types. */
export function checkFilterSyntax(expression: string): void {
  let why = answers.get(expression);
  if (why === undefined) {
    why = native().filterCompileError(expression, STORED_LINK_TYPES);
    if (answers.size >= MAX_ANSWERS) answers.delete(answers.keys().next().value as string);
    answers.set(expression, why);
  }
  if (why !== null) throw new FilterError(why);
}
