// Sends each exchange to the candidate (and the primary, at the same time) over the lanes of its
// captured connection, and hands production's, the candidate's and the primary's answers to the
// report. Lanes open at a connection's first exchange and close when the scheduler says its last
// one is done.
import type { Answer, Outcome } from '../answer';
import type { ReplayExchange } from './exchange';
import { Http1Lane } from './http1-lane';
import { Http2Lane } from './http2-lane';
import { RawLane } from './raw-lane';
import { ReplayError, type Lane, type LaneOptions } from './lane';

export interface ReplayerOptions {
  candidate: LaneOptions;
  primary?: LaneOptions;
}

export interface ReplayCounts {
  sent: number;
  /** Answers the candidate gave (a complete response or reply). */
  answered: number;
  /** Candidate failures by kind (timeout, refused, reset, ...). */
  errors: Record<string, number>;
  /** The first candidate failure's message (for the "never reachable" line). */
  firstError?: string;
  primaryErrors: number;
}

interface ConnectionLanes {
  candidate: Lane;
  primary?: Lane;
}

function laneFor(ex: ReplayExchange, opts: LaneOptions): Lane {
  switch (ex.request.kind) {
    case 'http':
      return new Http1Lane(opts);
    case 'h2':
      return new Http2Lane(opts);
    case 'raw':
      return new RawLane(opts);
  }
}

export class Replayer {
  private readonly lanes = new Map<string, ConnectionLanes>();
  private readonly closing = new Set<Promise<void>>();
  readonly counts: ReplayCounts = { sent: 0, answered: 0, errors: {}, primaryErrors: 0 };

  constructor(
    private readonly opts: ReplayerOptions,
    private readonly onOutcome: (ex: ReplayExchange, outcome: Outcome) => void,
  ) {}

  async send(ex: ReplayExchange): Promise<void> {
    let lanes = this.lanes.get(ex.info.conn);
    if (!lanes) {
      lanes = { candidate: laneFor(ex, this.opts.candidate), primary: this.opts.primary && laneFor(ex, this.opts.primary) };
      this.lanes.set(ex.info.conn, lanes);
    }
    this.counts.sent++;
    const [candidate, primary] = await Promise.all([settle(lanes.candidate.send(ex.request)), lanes.primary ? settle(lanes.primary.send(ex.request)) : undefined]);
    let outcome: Outcome;
    if (candidate instanceof ReplayError) {
      this.counts.errors[candidate.kind] = (this.counts.errors[candidate.kind] ?? 0) + 1;
      this.counts.firstError ??= `${candidate.kind}: ${candidate.message}`;
      outcome = { kind: 'error', production: ex.production, error: candidate.kind };
    } else {
      this.counts.answered++;
      if (primary instanceof ReplayError) this.counts.primaryErrors++;
      outcome = { kind: 'compared', production: ex.production, candidate, ...(primary && !(primary instanceof ReplayError) ? { primary } : {}) };
    }
    this.onOutcome(ex, outcome);
  }

  closeConnection(conn: string): void {
    const lanes = this.lanes.get(conn);
    if (!lanes) return;
    this.lanes.delete(conn);
    const p = Promise.all([lanes.candidate.close(), lanes.primary?.close()]).then(() => {
      this.closing.delete(p);
    });
    this.closing.add(p);
  }

  /** Closes every lane still open (connections whose close the capture never saw). */
  async closeAll(): Promise<void> {
    for (const conn of [...this.lanes.keys()]) this.closeConnection(conn);
    await Promise.all([...this.closing]);
  }
}

async function settle(p: Promise<Answer>): Promise<Answer | ReplayError> {
  try {
    return await p;
  } catch (e) {
    return e instanceof ReplayError ? e : new ReplayError('error', (e as Error)?.message ?? String(e));
  }
}
