// Packets an interface carried, from the kernel's own counters (/sys/class/net/IF/statistics).
// A packet socket sees both directions, so its view of "everything" is rx + tx. The agent uses
// this to report what a session's filter kept out, which a classic BPF filter cannot count.
import fs from 'node:fs';
import path from 'node:path';

const sysNet = process.env.PODSPAN_SYS_CLASS_NET ?? '/sys/class/net';

/** rx + tx packets of `iface`, or undefined where there is no such interface ("any", gone). */
export function interfacePackets(iface: string): number | undefined {
  if (iface === 'any' || iface.includes('/')) return undefined;
  try {
    const read = (name: string) => Number(fs.readFileSync(path.join(sysNet, iface, 'statistics', name), 'utf8'));
    const total = read('rx_packets') + read('tx_packets');
    return Number.isFinite(total) ? total : undefined;
  } catch {
    return undefined;
  }
}
