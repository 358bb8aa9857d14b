// The list-then-watch loop both watchers run: list, watch from the list's resourceVersion with
// bookmarks, re-list on 410 Gone, back off with jitter on other errors.
//
// Why not the library's ListWatch/makeInformer (client-node 1.4, dist/cache.js): it never asks for
// bookmarks (its watch query carries only resourceVersion and selectors), stops for good on any
// error other than 410 (the caller must restart it, with no backoff), and re-watches at once when
// a watch closes, which spins if the server keeps closing it. So this loop uses the library's
// building blocks (Watch, the typed list calls) and does the resourceVersion bookkeeping itself.
import { STATUS_CODES } from 'node:http';
import type { Watch } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger';

export interface BackoffMs {
  initial: number;
  max: number;
}

export interface WatcherOptions {
  backoffMs?: BackoffMs;
}

export const DEFAULT_BACKOFF_MS: BackoffMs = { initial: 500, max: 30_000 };

/** What a watcher offers: start with a listener, stop, and whether a list has succeeded. */
export abstract class LoopWatcher<L> {
  protected listener: L | undefined;
  protected abstract readonly loop: ListWatchLoop<unknown>;

  /** Resolves after the first list has been delivered to `listener` (or when stopped first). */
  start(listener: L): Promise<void> {
    this.listener = listener;
    return this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** True once a list has succeeded. */
  get synced(): boolean {
    return this.loop.synced;
  }
}


export interface ListWatchSpec<T> {
  /** For logs: "pods", "mirrorsessions". */
  what: string;
  log: Logger;
  watch: Pick<Watch, 'watch'>;
  watchPath: string;
  watchQuery: Record<string, string>;
  list(): Promise<{ items: unknown[]; resourceVersion: string }>;
  /** The object's identity (uid, namespace/name); undefined skips the object. */
  keyOf(obj: unknown): string | undefined;
  convert(obj: unknown): T;
  onChange(objects: Map<string, T>): void;
  backoffMs: BackoffMs;
  /**
   * A list error meaning "this resource does not exist (yet)" (a CRD not installed): the state
   * becomes empty, start() resolves, one warning is logged, and the loop keeps retrying.
   */
  isAbsent?(err: unknown): boolean;
  /** What the one warning about absence says (default: the CRD may not be installed). */
  absentMessage?: string;
}

/** How a watch ended when it did not fail. */
type WatchEnd = 'closed' | 'expired' | 'stopped';

/** Watches are restarted by the server after timeoutSeconds; the client gives up this long after that. */
const WATCH_TIMEOUT_RANGE_S = [300, 600] as const;
const WATCH_CLIENT_GRACE_MS = 30_000;
/** A watch that closes this soon without any event counts as a failure (backs off, not a hot loop). */
const WATCH_MIN_HEALTHY_MS = 1_000;

export class ListWatchLoop<T> {
  private readonly objects = new Map<string, T>();
  /** JSON of each converted object, to skip notifying for changes we do not carry (pod conditions). */
  private readonly fingerprints = new Map<string, string>();
  private resourceVersion = '';
  private started = false;
  private stopped = false;
  private hasSynced = false;
  /** Whether the listener has been called at all. */
  private delivered = false;
  private failures = 0;
  private lastExpiryAt = 0;
  private absentWarned = false;
  private firstListDone: (() => void) | undefined;
  private cancelWait: (() => void) | undefined;
  private cancelWatch: (() => void) | undefined;

  constructor(private readonly spec: ListWatchSpec<T>) {}

  get synced(): boolean {
    return this.hasSynced;
  }

  /** The resourceVersion the next watch starts from ('' means: list first). */
  get latestResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Starts the loop (once per instance); resolves after the first list, or on stop(). */
  start(): Promise<void> {
    if (this.started) throw new Error(`${this.spec.what} watcher already started`);
    this.started = true;
    const firstList = new Promise<void>((resolve) => (this.firstListDone = resolve));
    void this.run();
    return firstList;
  }

  stop(): void {
    this.stopped = true;
    this.cancelWait?.();
    this.cancelWatch?.();
    this.resolveFirstList();
  }

  private async run(): Promise<void> {
    const { log, what } = this.spec;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.stopped) break;
        const started = Date.now();
        const { end, events } = await this.watchOnce();
        if (end === 'expired') {
          await this.expired(`${what}: watch expired (410 Gone): listing again`);
        } else if (end === 'closed' && events === 0 && Date.now() - started < WATCH_MIN_HEALTHY_MS) {
          log.debug(`${what} watch closed at once without events: backing off`);
          await this.wait(this.nextBackoff());
        } else {
          this.failures = 0;
        }
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          await this.expired(`${what}: resourceVersion too old (410 Gone): listing again`);
          continue;
        }
        if (this.resourceVersion && isBareRefusal(err)) {
          // The watch client drops a refusal's body (the server's reason): ask again with a list,
          // whose error carries it, so the log says who may not do what.
          this.resourceVersion = '';
          await this.wait(this.nextBackoff());
          continue;
        }
        const delayMs = this.nextBackoff();
        if (this.spec.isAbsent?.(err)) this.becomeAbsent(err);
        else log.warn({ error: describeError(err), retryInMs: Math.round(delayMs) }, `${what}: list/watch failed`);
        await this.wait(delayMs);
      }
    }
  }

  /** Forget the resourceVersion so the next round lists; back off if it keeps expiring at once. */
  private async expired(message: string): Promise<void> {
    this.spec.log.info({ resourceVersion: this.resourceVersion }, message);
    this.resourceVersion = '';
    const now = Date.now();
    const again = now - this.lastExpiryAt < WATCH_MIN_HEALTHY_MS;
    this.lastExpiryAt = now;
    if (again) await this.wait(this.nextBackoff());
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.spec.list();
    if (this.stopped) return;
    if (this.absentWarned) this.spec.log.info(`${this.spec.what}: resource available again`);
    this.absentWarned = false;
    this.objects.clear();
    this.fingerprints.clear();
    for (const item of items) this.apply('ADDED', item);
    this.resourceVersion = resourceVersion;
    this.hasSynced = true;
    this.failures = 0;
    this.notify();
    this.resolveFirstList();
  }

  private becomeAbsent(err: unknown): void {
    if (!this.absentWarned) {
      this.spec.log.warn({ error: describeError(err) }, `${this.spec.what}: ${this.spec.absentMessage ?? 'resource not found on the API server (CRD not installed?)'}; retrying`);
      this.absentWarned = true;
    }
    this.resourceVersion = '';
    const hadObjects = this.objects.size > 0;
    this.objects.clear();
    this.fingerprints.clear();
    // Consumers hear about absence once (an empty set), not at every retry.
    if (hadObjects || !this.delivered) this.notify();
    this.resolveFirstList();
  }

  /** One watch from this.resourceVersion, until the server closes it, it expires, or stop(). */
  private watchOnce(): Promise<{ end: WatchEnd; events: number }> {
    const { watch, watchPath, watchQuery, what } = this.spec;
    const timeoutSeconds = Math.round(WATCH_TIMEOUT_RANGE_S[0] + Math.random() * (WATCH_TIMEOUT_RANGE_S[1] - WATCH_TIMEOUT_RANGE_S[0]));
    const query = { ...watchQuery, resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
    return new Promise((resolve, reject) => {
      let events = 0;
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (outcome: { end: WatchEnd } | { err: unknown }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        this.cancelWatch = undefined;
        controller?.abort();
        if ('err' in outcome) reject(outcome.err);
        else resolve({ end: outcome.end, events });
      };
      // A half-open connection never closes by itself: give up some time after the server should have.
      const watchdog = setTimeout(() => finish({ end: 'closed' }), timeoutSeconds * 1000 + WATCH_CLIENT_GRACE_MS);
      this.cancelWatch = () => finish({ end: 'stopped' });

      const onEvent = (type: string, obj: unknown): void => {
        if (settled) return;
        events++;
        try {
          if (type === 'ERROR') {
            const status = obj as { code?: number; message?: string; reason?: string };
            if (status?.code === 410) finish({ end: 'expired' });
            else finish({ err: new WatchErrorEvent(status?.code, status?.message ?? status?.reason ?? 'watch error event') });
            return;
          }
          this.resourceVersion = resourceVersionOf(obj) || this.resourceVersion;
          if (type === 'BOOKMARK') return;
          if (this.apply(type, obj)) this.notify();
        } catch (err) {
          // The library drops exceptions thrown by this callback; keep ours visible.
          this.spec.log.error({ error: describeError(err), type }, `${what}: cannot apply watch event`);
        }
      };
      const onDone = (err: unknown): void => finish(err ? { err } : { end: 'closed' });

      watch.watch(watchPath, query, onEvent, onDone).then(
        (c) => {
          controller = c;
          if (settled) c.abort();
        },
        (err) => finish({ err }),
      );
    });
  }

  /** Applies one ADDED/MODIFIED/DELETED object; true when the converted state changed. */
  private apply(type: string, obj: unknown): boolean {
    const key = this.spec.keyOf(obj);
    if (!key) return false;
    if (type === 'DELETED') {
      this.fingerprints.delete(key);
      return this.objects.delete(key);
    }
    if (type !== 'ADDED' && type !== 'MODIFIED') return false;
    const value = this.spec.convert(obj);
    const fingerprint = JSON.stringify(value);
    if (this.fingerprints.get(key) === fingerprint) return false;
    this.objects.set(key, value);
    this.fingerprints.set(key, fingerprint);
    return true;
  }

  private notify(): void {
    this.delivered = true;
    try {
      this.spec.onChange(new Map(this.objects));
    } catch (err) {
      this.spec.log.error({ error: describeError(err) }, `${this.spec.what}: listener failed`);
    }
  }

  private resolveFirstList(): void {
    this.firstListDone?.();
    this.firstListDone = undefined;
  }

  /** Exponential, with jitter so that every node's agent does not retry in the same instant. */
  private nextBackoff(): number {
    const { initial, max } = this.spec.backoffMs;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  private wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.cancelWait = () => {
        this.cancelWait = undefined;
        done();
      };
    });
  }
}

/** An ERROR event in a watch stream other than 410 (its object is a Status). */
export class WatchErrorEvent extends Error {
  constructor(
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'WatchErrorEvent';
  }
}

/** The HTTP status of an error from the typed API (ApiException.code) or from Watch (statusCode). */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; code?: unknown; name?: string };
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** 401 or 403 without the server's Status (as the Watch client reports them). */
function isBareRefusal(err: unknown): boolean {
  const status = httpStatusOf(err);
  return (status === 401 || status === 403) && (err as { body?: unknown }).body === undefined;
}

function isGone(err: unknown): boolean {
  return httpStatusOf(err) === 410;
}

function resourceVersionOf(obj: unknown): string | undefined {
  const rv = (obj as { metadata?: { resourceVersion?: unknown } })?.metadata?.resourceVersion;
  return typeof rv === 'string' ? rv : undefined;
}

/** One line for the log: the HTTP status and the server's message, or the network error; no stack. */
export function describeError(err: unknown): string {
  const firstLine = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  const status = httpStatusOf(err);
  if (status === undefined) return firstLine;
  const statusText = STATUS_CODES[status] ?? '';
  // ApiException's message is a dump of the body and headers: prefer the Status's message.
  const detail = serverMessage((err as { body?: unknown }).body) ?? (/^HTTP-Code:/.test(firstLine) ? undefined : firstLine);
  return `HTTP ${status}${statusText ? ` ${statusText}` : ''}${detail && detail !== statusText ? `: ${detail}` : ''}`;
}

function serverMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return serverMessage(JSON.parse(body));
    } catch {
      return body.trim().split('\n')[0].slice(0, 200) || undefined;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}
