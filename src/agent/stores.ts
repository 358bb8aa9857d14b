// The agent's upload spools: one per store and spool settings in use (`store`, `storeSpoolMB`,
// `keepLocal` of a session's pcap target). A spool is made, checked (bucket and credentials) and
// started when the first capture of a session naming it starts: the config file's at start-up,
// a ClusterMirrorSession's whenever it comes. Each session's folder is resumed the first time,
// before its captures write there. A spool no session names any more is stopped once it has
// uploaded what the session's last captures closed.
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { ResolvedSession } from '../config/agent-config';
import type { Logger } from '../observability/logger';
import type { UploadSpool } from '../storage/upload-spool';
import { fileName } from './mirror-capture';

/** Closed files waiting at most, per spool, unless the session says (million bytes). */
const DEFAULT_SPOOL_MB = 10_000;

interface StoredPcap {
  dir: string;
  store: string;
  storeSpoolMB?: number;
  keepLocal?: boolean;
}

/** The session's pcap target when it uploads to a store. */
export function storedPcap(s: ResolvedSession): StoredPcap | undefined {
  for (const t of s.targets) if ('pcap' in t && t.pcap.store) return t.pcap as StoredPcap;
  return undefined;
}

const spoolKey = (p: StoredPcap) => JSON.stringify([p.store, p.storeSpoolMB ?? DEFAULT_SPOOL_MB, p.keepLocal === true]);

export class AgentStores {
  private readonly spools = new Map<string, Promise<UploadSpool>>();
  /** Spools no session names, still uploading what was left (logged once). */
  private readonly retiring = new Set<string>();
  private stopping: UploadSpool[] = [];
  private hurried = false;

  constructor(
    private readonly log: Logger,
    private readonly registry: Registry,
  ) {}

  /**
   * The spool for `session`'s pcap target (undefined without a store), started on first use; a
   * StoreError when the bucket is missing or the credentials are refused (tried again next time).
   */
  async spoolFor(session: ResolvedSession): Promise<UploadSpool | undefined> {
    const pcap = storedPcap(session);
    if (!pcap) return undefined;
    const key = spoolKey(pcap);
    let spool = this.spools.get(key);
    if (!spool) {
      spool = this.open(pcap, `session ${session.name}: pcap store`);
      this.spools.set(key, spool);
      spool.catch(() => this.spools.delete(key));
    }
    const ready = await spool;
    this.retiring.delete(key);
    ready.resume([path.join(pcap.dir, fileName(session.name))]);
    return ready;
  }

  private async open(pcap: StoredPcap, flag: string): Promise<UploadSpool> {
    const { checkStore, parseStoreUrl, s3Client } = await import('../storage/store');
    const { UploadSpool, uploaderId } = await import('../storage/upload-spool');
    const location = parseStoreUrl(flag, pcap.store);
    const client = s3Client();
    try {
      await checkStore(client, location, flag);
    } catch (err) {
      client.destroy();
      throw err;
    }
    const spool = new UploadSpool(
      client,
      { store: location, dirs: [], capBytes: Math.round((pcap.storeSpoolMB ?? DEFAULT_SPOOL_MB) * 1e6), keepLocal: pcap.keepLocal === true, uploaderId: uploaderId() },
      this.log,
      this.registry,
    );
    spool.start();
    this.log.info({ store: pcap.store }, 'store: uploads started');
    return spool;
  }

  /** Stops the spools none of `sessions` names once they are empty (call after their captures stopped). */
  async retire(sessions: ResolvedSession[]): Promise<void> {
    const wanted = new Set(sessions.flatMap((s) => {
      const p = storedPcap(s);
      return p ? [spoolKey(p)] : [];
    }));
    for (const [key, pending] of this.spools) {
      if (wanted.has(key)) continue;
      const spool = await pending.catch(() => undefined);
      if (!spool) continue;
      const left = spool.stats().spoolFiles;
      if (left === 0) {
        this.spools.delete(key);
        this.retiring.delete(key);
        await spool.stop();
        this.log.info({ store: JSON.parse(key)[0] }, 'store: no session uploads there any more: uploads stopped');
      } else if (!this.retiring.has(key)) {
        this.retiring.add(key);
        this.log.info({ store: JSON.parse(key)[0], files: left }, 'store: no session uploads there any more: stopping once the files left are uploaded');
      }
    }
  }

  /**
   * Stops every spool, uploading on for at most `drainMs`; what is left waits in the folders for
   * the next start. True when a request the store never answered was abandoned (see UploadSpool).
   */
  async stop(drainMs: number): Promise<boolean> {
    const spools = (await Promise.all([...this.spools.values()].map((p) => p.catch(() => undefined)))).filter((s) => s !== undefined);
    this.spools.clear();
    this.stopping = spools;
    if (this.hurried) for (const s of spools) s.hurry();
    await Promise.all(spools.map((s) => s.stop(drainMs)));
    return spools.some((s) => s.abandoned);
  }

  /**
   * A stop in progress (or the next one) uploads nothing more: what is left waits for the next
   * start. How many stores that concerns.
   */
  hurry(): number {
    this.hurried = true;
    for (const s of this.stopping) s.hurry();
    return this.spools.size + this.stopping.length;
  }
}
