// A BPF expression checked before the work that needs it begins: `podspan export` lists and
// fetches objects before it opens a capture, and a mistyped filter must not wait for that (nor
// pass unnoticed when nothing matched). The files' link types are not known yet, so the
// expression need only compile for one of those captures hold; each file then compiles it for
// its own (`ether host` takes Ethernet only, and a capture of -i any is Linux cooked).
import { FilterError, fromNative } from '../errors';
import { filterTooBig } from './filter-limits';
import { native } from './native';

/** Ethernet, Linux cooked v1 and v2 (-i any), raw IP. */
const STORED_LINK_TYPES = [1, 113, 276, 101];

/** Throws a FilterError naming `where` when `expression` is too big or no link type takes it. */
export function checkFilter(where: string, expression: string): void {
  const tooBig = filterTooBig(expression);
  if (tooBig) throw new FilterError(`${where}: ${tooBig}`);
  try {
    new (native().NativeFrameFilter)(expression, STORED_LINK_TYPES);
  } catch (err) {
    const e = fromNative(err);
    throw e instanceof FilterError ? e : new FilterError(`${where}: ${e.message}`);
  }
}
