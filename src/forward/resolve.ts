// Forwarding targets may name hosts; the native sender takes addresses. Names are resolved once,
// before capture starts, and a name that does not resolve is a ForwardError naming the target.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ForwardTarget } from '../config/forward-options';
import { ForwardError } from '../errors';

export async function resolveTargets(targets: ForwardTarget[]): Promise<ForwardTarget[]> {
  return Promise.all(
    targets.map(async (t) => {
      if (isIP(t.host) !== 0) return t;
      try {
        const { address } = await lookup(t.host);
        return { ...t, host: address };
      } catch (err) {
        throw new ForwardError(`${t.url}: cannot resolve ${t.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }),
  );
}
