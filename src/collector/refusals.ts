// What the collector refused because a limit was reached: counted (Prometheus, by reason) and
// logged at most once a minute per reason, with how many since the last line, so a flood of
// refusals costs no more than a counter increment each.
import type { Counter } from 'prom-client';
import type { Logger } from '../observability/logger';

/** agents: --max-agents (a stream); interfaces: --max-interfaces, linktype: above 65535 (frames);
 *  vxlan_sources, geneve_sources, gre_sources: --max-vxlan-sources (datagrams of a listener). */
export type RefusalReason = 'agents' | 'interfaces' | 'linktype' | 'vxlan_sources' | 'geneve_sources' | 'gre_sources';

const LOG_EVERY_MS = 60_000;

const messages: Record<RefusalReason, string> = {
  agents: 'agent refused: too many agents with an open file (--max-agents)',
  interfaces: 'frames refused: their agent file has --max-interfaces sources already',
  linktype: 'frames refused: link type above 65535, which pcapng cannot hold',
  vxlan_sources: 'VXLAN datagrams refused: --max-vxlan-sources sender/VNI pairs known already',
  geneve_sources: 'GENEVE datagrams refused: --max-vxlan-sources sender/VNI pairs known already',
  gre_sources: 'GRE/ERSPAN packets refused: --max-vxlan-sources sender/key pairs known already',
};

export class Refusals {
  private readonly last = new Map<RefusalReason, { at: number; count: number }>();

  constructor(
    private readonly log: Logger,
    private readonly counters: { streams: Counter<'reason'>; frames: Counter<'reason'> },
  ) {}

  count(reason: RefusalReason, n: number, now = Date.now()): void {
    if (n <= 0) return;
    if (reason === 'agents') this.counters.streams.inc({ reason }, n);
    else this.counters.frames.inc({ reason }, n);
    const l = this.last.get(reason) ?? { at: -Infinity, count: 0 };
    l.count += n;
    if (now - l.at >= LOG_EVERY_MS) {
      this.log.warn({ reason, refused: l.count }, messages[reason]);
      l.at = now;
      l.count = 0;
    }
    this.last.set(reason, l);
  }
}
