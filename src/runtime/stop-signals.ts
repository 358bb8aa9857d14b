// How the long-running commands (agent, collector) stop. The first SIGINT or SIGTERM starts a
// graceful stop, which waits a bounded time for agents' streams and uploads; a second one (Ctrl-C
// after a pod's SIGTERM, or pressed twice) asks it to give up that waiting, as kubectl and
// docker do. The handlers stay until the process ends (the commands never remove them), so no
// later signal ends it half-way through closing its files or writing its summary. An exit
// deadline is the last word when something still hangs.

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export interface StopSignals {
  /** Resolves at the first SIGINT or SIGTERM, with its name. */
  readonly first: Promise<NodeJS.Signals>;
  /**
   * `hurry` runs at the second signal (once; later signals are ignored), or at once if that came
   * already (two signals can arrive in one turn of the event loop, before the stop has begun).
   */
  onRepeat(hurry: (signal: NodeJS.Signals) => void): void;
  /** Removes the handlers (tests). */
  dispose(): void;
}

export function stopSignals(): StopSignals {
  let count = 0;
  let resolveFirst!: (s: NodeJS.Signals) => void;
  let hurry: ((s: NodeJS.Signals) => void) | undefined;
  let repeated: NodeJS.Signals | undefined;
  const first = new Promise<NodeJS.Signals>((r) => (resolveFirst = r));
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) resolveFirst(signal);
    else if (count === 2) {
      repeated = signal;
      hurry?.(signal);
    }
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    first,
    onRepeat: (h) => {
      hurry = h;
      if (repeated) h(repeated);
    },
    dispose: () => {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}

/**
 * Ends the process with exit status 1 after `ms`, writing `line` first, unless cancelled: the
 * bound on a stop whose parts are each bounded, should one of them still hang (a disk that no
 * longer answers). Until then it also keeps the process alive: a stop waiting on work that holds
 * no handle of its own (an unref'd thread, a store that stopped answering) would otherwise end
 * with the event loop, exit 0, half done.
 */
export function exitDeadline(ms: number, line: string, err: NodeJS.WritableStream, exit: (code: number) => void = process.exit): () => void {
  const timer = setTimeout(() => {
    err.write(line + '\n');
    exit(1);
  }, ms);
  return () => clearTimeout(timer);
}
