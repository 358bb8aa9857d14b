// A session's filter as one BPF expression for libpcap: the user's own BPF, the simple rules
// (protocols, ports, CIDRs) and flow sampling, all run in the kernel. The direction is not in the
// expression: libpcap filters the ring blocks filled before the filter was set in user space,
// where `inbound`/`outbound` cannot be evaluated, so they lost a whole block (about 1,365 small
// frames) at the start of every capture; libpcap's direction setting (tcpdump -Q) has no such
// gap. Sampling keeps 1 in N flows, whole: a symmetric hash of the addresses and ports (XOR)
// modulo N, so both directions of a flow fall on the same side.
import type { SessionConfig } from '../config/agent-config';

const any = (parts: string[]) => (parts.length === 1 ? parts[0] : `(${parts.join(' or ')})`);

/** The kernel-side flow sample: true for 1 in `n` flows (IPv4 and IPv6 without extension headers). */
export function sampleExpression(n: number): string {
  const l4 = '((ip[0] & 0xf) << 2)';
  const v4 = `(ip and ((ip[12:4] ^ ip[16:4] ^ ip[${l4} : 2] ^ ip[${l4} + 2 : 2]) % ${n} = 0))`;
  const v6 = `(ip6 and ((ip6[20:4] ^ ip6[36:4] ^ ip6[40:2] ^ ip6[42:2]) % ${n} = 0))`;
  return `(${v4} or ${v6})`;
}

/**
 * The capture's filter, and with sampling also the same filter without it (`sampledFilter`):
 * the capture core chains the two so the kernel reports what sampling leaves out.
 */
export function sessionFilters(s: Pick<SessionConfig, 'filter' | 'sampleOneIn'> & { countSampledOut?: boolean }, extra?: string): { filter?: string; sampledFilter?: string } {
  const f = s.filter;
  const parts: string[] = [];
  if (f.bpf?.trim()) parts.push(`(${f.bpf.trim()})`);
  if (f.protocols.length) parts.push(any(f.protocols.map((p) => (p === 'icmp' ? '(icmp or icmp6)' : p))));
  if (f.ports.length) parts.push(any(f.ports.map((p) => `port ${p}`)));
  if (f.cidrs.length) parts.push(any(f.cidrs.map((c) => `net ${c}`)));
  if (extra) parts.push(`(${extra})`);
  const join = (p: string[]) => (p.length ? p.join(' and ') : undefined);
  if (s.sampleOneIn <= 1) return { filter: join(parts) };
  // An empty rule set samples everything: "greater 0" accepts every packet.
  const filter = join([...parts, sampleExpression(s.sampleOneIn)]);
  return s.countSampledOut === false ? { filter } : { filter, sampledFilter: join(parts) ?? 'greater 0' };
}

/** The capture's direction (libpcap's pcap_setdirection): on a pod's host-side veth, `in` is what the pod sends. */
export function sessionDirection(s: Pick<SessionConfig, 'filter'>): 'in' | 'out' | undefined {
  return s.filter.direction === 'both' ? undefined : s.filter.direction;
}
