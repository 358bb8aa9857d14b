// undici Clients kept between captured connections. A new Client per captured connection costs
// about twice what its connection does (bench/node-connection-cost.js): with each captured client
// opening a connection per request, that was most of a replay's CPU. A lane hands its Client back
// when its connection is closed or closing (the captured request asked for `Connection: close`, or
// the candidate ended it), so the next lane's first request opens a new connection on it: the
// candidate still sees the captured connection boundaries. A Client whose connection is still open
// is closed instead (keep-alive connections are few and long).
import { Client } from 'undici';
import type { LaneOptions } from './lane';

export interface PooledClient {
  client: Client;
  /** Between undici's 'connect' and 'disconnect' events. */
  connected: boolean;
}

export class Http1Clients {
  private readonly idle: PooledClient[] = [];
  private closed = false;
  /** Clients made so far (the rest of the lanes reused one). */
  created = 0;

  constructor(
    private readonly opts: LaneOptions,
    /** Idle Clients kept at most (about the requests in flight). */
    private readonly maxIdle: number,
  ) {}

  acquire(): PooledClient {
    const reused = this.idle.pop();
    if (reused) return reused;
    const { opts } = this;
    this.created++;
    const client = new Client(opts.target.origin, {
      pipelining: 1,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: opts.timeoutMs, ...(opts.target.tls ? { rejectUnauthorized: !opts.insecure } : {}) },
    });
    const pooled: PooledClient = { client, connected: false };
    client.on('connectionError', () => {}); // each request reports its own failure
    client.on('connect', () => (pooled.connected = true));
    client.on('disconnect', () => (pooled.connected = false));
    return pooled;
  }

  /** `closing`: the lane's last request asked undici to close the connection after its answer. */
  release(pooled: PooledClient, closing: boolean): Promise<void> {
    const { client } = pooled;
    const reusable = !this.closed && !client.closed && !client.destroyed && (closing || !pooled.connected);
    if (reusable && this.idle.length < this.maxIdle) {
      this.idle.push(pooled);
      return Promise.resolve();
    }
    return closeClient(client);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all(this.idle.splice(0).map((p) => closeClient(p.client)));
  }
}

function closeClient(client: Client): Promise<void> {
  return client.close().catch(() => client.destroy().catch(() => {}));
}
