// The records analytics produces, as JavaScript sees them: one parsed JSON line each from
// flows.jsonl, http.jsonl and dns.jsonl (and alerts.jsonl: src/detection/alert-record.ts). Field names and meanings are those of
// native/core/analysis/records.h (times in ms with microsecond precision, `ts` ISO 8601 with ns,
// unknowns null). Pod fields are added in JavaScript (pods.ts) where the agent knows the address.
import { InputFileError } from '../errors';

import type { AlertRecord } from '../detection/alert-record';

/** The analytics records (analyze) and the detector's alerts (detect), each a JSON-lines kind. */
export type AnalyticsKind = 'flows' | 'http' | 'dns';
export type RecordKind = AnalyticsKind | 'alerts';
export const ANALYTICS_KINDS: readonly AnalyticsKind[] = ['flows', 'http', 'dns'];
export const RECORD_KINDS: readonly RecordKind[] = [...ANALYTICS_KINDS, 'alerts'];

export type ConnState = 'established' | 'rejected' | 'syn_unanswered' | 'reset' | 'closed' | 'timeout' | 'midstream';
export const CONN_STATES: readonly ConnState[] = ['established', 'rejected', 'syn_unanswered', 'reset', 'closed', 'timeout', 'midstream'];

/** Both ends of a record, as seen; pod fields ("namespace/name") and nodes when known. */
export interface Endpoints {
  client: string;
  client_port: number;
  server: string;
  server_port: number;
  /** 802.1Q VLAN id; absent when 0. */
  vlan?: number;
  client_pod?: string;
  server_pod?: string;
  client_node?: string;
  server_node?: string;
}

export interface FlowRecord extends Endpoints {
  uid: string;
  proto: 'tcp';
  ts: string;
  duration_ms: number;
  client_bytes: number;
  server_bytes: number;
  client_packets: number;
  server_packets: number;
  handshake_rtt_ms: number | null;
  server_rtt_ms: number | null;
  client_rtt_ms: number | null;
  retransmitted_packets: number;
  out_of_order_packets: number;
  zero_window_events: number;
  missed_bytes: number;
  state: ConnState;
  close_reason: string;
  app: string;
}

export interface HttpRecord extends Endpoints {
  uid: string;
  ts: string;
  version: string;
  stream_id: number;
  method: string;
  host: string;
  path: string;
  route: string;
  /** 0 when no response was seen (the native lines have null there: see httpRequest). */
  status: number;
  grpc_status: number | null;
  request_bytes: number;
  response_bytes: number;
  latency_ms: number | null;
  duration_ms: number | null;
  note: string;
}

export interface DnsRecord extends Endpoints {
  uid: string | null;
  proto: 'udp' | 'tcp';
  ts: string;
  trans_id: number;
  query: string;
  qtype: number;
  qtype_name: string;
  /** -1 when no response was seen (the native lines have null there, rcode_name too: see dnsRequest). */
  rcode: number;
  rcode_name: string;
  answers: number;
  latency_ms: number | null;
}

export interface RecordsByKind {
  flows: FlowRecord[];
  http: HttpRecord[];
  dns: DnsRecord[];
  alerts: AlertRecord[];
}

/** JSON-lines text as the native side hands it (complete lines), with `where` naming the source in errors. */
export function parseJsonLines<T>(text: Buffer | string, where: string): T[] {
  const out: T[] = [];
  const s = typeof text === 'string' ? text : text.toString('utf8');
  let start = 0;
  let line = 0;
  while (start < s.length) {
    let end = s.indexOf('\n', start);
    if (end < 0) end = s.length;
    line++;
    if (end > start) {
      try {
        out.push(JSON.parse(s.slice(start, end)) as T);
      } catch {
        throw new InputFileError(`${where}: line ${line} is not JSON`);
      }
    }
    start = end + 1;
  }
  return out;
}
