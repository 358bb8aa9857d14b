// Sends each exchange to the candidate (and the primary, at the same time) over the lanes of its
// captured connection, and hands production's, the candidate's and the primary's answers to the
// report. Lanes open at a connection's first exchange and close when the scheduler says its last
// one is done.
import type { Answer, Outcome } from '../answer';
import { ignoredHeaders, type CompareRules } from '../compare';
import { headersFromRow } from './from-batch';
import type { ReplayExchange } from './exchange';
import { Http1Clients } from './http1-clients';
import { Http1Lane } from './http1-lane';
import { Http2Lane } from './http2-lane';
import { NativeHttp1Transport } from './native-http1';
import { NativeHttp1Lane } from './native-http1-lane';
import { RawLane } from './raw-lane';
import { ReplayError, type Lane, type LaneOptions } from './lane';
import type { Http1TransportKind } from '../../config/shadow-options';

export interface ReplayerOptions {
  candidate: LaneOptions;
  primary?: LaneOptions;
  /** HTTP/1 Clients kept idle between captured connections, per target (about the requests in flight). */
  maxIdleClients: number;
  /** HTTP/1 to http:// targets: the native transport (default) or undici (https always uses undici). */
  http1Transport?: Http1TransportKind;
  /**
   * The comparison's rules: without a primary, the native transport checks the candidate's
   * answers against production's itself (an answer the same comes back without headers or body).
   */
  rules?: CompareRules;
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
  /** HTTP/1 connections' undici Clients made for the candidate (fewer than its connections when reused). */
  candidateClients: number;
}

interface ConnectionLanes {
  candidate: Lane;
  primary?: Lane;
}

/** A target's options and its HTTP/1 transport: native (plain http) or undici Clients. */
interface Target {
  opts: LaneOptions;
  clients: Http1Clients;
  /** HTTP/1 goes native; the transport (a thread) is made at the first HTTP/1 lane. */
  nativeHttp1: boolean;
  native?: NativeHttp1Transport;
  /** The native transport compares answers with production's, leaving out these header names. */
  sameIgnoredHeaders?: string[];
}

function laneFor(ex: ReplayExchange, t: Target): Lane {
  switch (ex.request.kind) {
    case 'http':
      if (!t.nativeHttp1) return new Http1Lane(t.opts, t.clients);
      t.native ??= new NativeHttp1Transport(t.opts, t.sameIgnoredHeaders);
      return new NativeHttp1Lane(t.opts, t.native);
    case 'h2':
      return new Http2Lane(t.opts);
    case 'raw':
      return new RawLane(t.opts);
  }
}

export class Replayer {
  private readonly lanes = new Map<string, ConnectionLanes>();
  private readonly closing = new Set<Promise<void>>();
  private readonly tally: Omit<ReplayCounts, 'candidateClients'> = { sent: 0, answered: 0, errors: {}, primaryErrors: 0 };
  private readonly candidate: Target;
  private readonly primary?: Target;

  constructor(
    opts: ReplayerOptions,
    private readonly onOutcome: (ex: ReplayExchange, outcome: Outcome) => void,
  ) {
    const useNative = (opts.http1Transport ?? 'native') === 'native';
    const target = (o: LaneOptions): Target => ({
      opts: o,
      clients: new Http1Clients(o, opts.maxIdleClients),
      nativeHttp1: useNative && !o.target.tls,
    });
    this.candidate = target(opts.candidate);
    this.primary = opts.primary && target(opts.primary);
    // With a primary every answer is compared in JavaScript (noise is told from both comparisons).
    if (!this.primary && opts.rules) this.candidate.sameIgnoredHeaders = [...ignoredHeaders(opts.rules)];
  }

  /**
   * Whether HTTP/1 exchanges may leave their header lists in their rows (BatchDecoder): every
   * HTTP/1 lane then sends from the row, and report() reads the lists when a comparison needs them.
   */
  get headersInRow(): boolean {
    return this.candidate.nativeHttp1 && (!this.primary || this.primary.nativeHttp1);
  }

  get counts(): ReplayCounts {
    return { ...this.tally, candidateClients: this.candidate.clients.created };
  }

  /** Resolves once the exchange's outcome is reported; never rejects (a failure is an outcome). */
  send(ex: ReplayExchange): Promise<void> {
    let lanes = this.lanes.get(ex.info.conn);
    if (!lanes) {
      lanes = { candidate: laneFor(ex, this.candidate), primary: this.primary && laneFor(ex, this.primary) };
      this.lanes.set(ex.info.conn, lanes);
    }
    this.tally.sent++;
    // One promise per request without a primary: this runs for every replayed request.
    const candidate = lanes.candidate.send(ex.request, ex.production);
    if (!lanes.primary) return candidate.then((a) => this.report(ex, a), (e: unknown) => this.report(ex, replayError(e)));
    return Promise.all([settle(candidate), settle(lanes.primary.send(ex.request))]).then(([c, p]) => this.report(ex, c, p));
  }

  private report(ex: ReplayExchange, candidate: Answer | ReplayError, primary?: Answer | ReplayError): void {
    let outcome: Outcome;
    if (candidate instanceof ReplayError) {
      this.tally.errors[candidate.kind] = (this.tally.errors[candidate.kind] ?? 0) + 1;
      this.tally.firstError ??= `${candidate.kind}: ${candidate.message}`;
      outcome = { kind: 'error', production: ex.production, error: candidate.kind };
    } else {
      this.tally.answered++;
      if (primary instanceof ReplayError) this.tally.primaryErrors++;
      // Compared in JavaScript: the header lists are wanted now.
      if (!candidate.sameAsProduction) headersFromRow(ex);
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
    await Promise.all([this.candidate.clients.closeAll(), this.primary?.clients.closeAll()]);
    this.candidate.native?.close();
    this.primary?.native?.close();
  }
}

function replayError(e: unknown): ReplayError {
  return e instanceof ReplayError ? e : new ReplayError('error', (e as Error)?.message ?? String(e));
}

function settle(p: Promise<Answer>): Promise<Answer | ReplayError> {
  return p.then((a) => a, replayError);
}
