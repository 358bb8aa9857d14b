// `podspan interfaces`: every interface libpcap can capture on, with addresses and flags.
import { listInterfaces } from '../capture/session';

export function runInterfaces(json: boolean, out: NodeJS.WritableStream): number {
  const devices = listInterfaces();
  if (json) {
    out.write(JSON.stringify(devices, null, 2) + '\n');
    return 0;
  }
  devices.forEach((d, i) => {
    const desc = d.description ? ` (${d.description})` : '';
    out.write(`${i + 1}.${d.name}${desc} [${d.flags.join(', ')}]\n`);
    for (const a of d.addresses) {
      const mask = a.netmask ? ` netmask ${a.netmask}` : '';
      const bcast = a.broadcast ? ` broadcast ${a.broadcast}` : '';
      out.write(`    ${a.family} ${a.address}${mask}${bcast}\n`);
    }
  });
  return 0;
}

// tcpdump -D's words for libpcap's flags; connection status "not applicable" is left out, as tcpdump does.
const TCPDUMP_FLAG_WORDS: Record<string, string> = {
  up: 'Up', running: 'Running', loopback: 'Loopback', wireless: 'Wireless', connected: 'Connected', disconnected: 'Disconnected',
};

/** `podspan capture -D`: the list as tcpdump -D prints it. */
export function runInterfacesLikeTcpdump(out: NodeJS.WritableStream): number {
  listInterfaces().forEach((d, i) => {
    const desc = d.description ? ` (${d.description})` : '';
    const flags = d.flags.map((f) => TCPDUMP_FLAG_WORDS[f]).filter(Boolean);
    out.write(`${i + 1}.${d.name}${desc} [${flags.join(', ') || 'none'}]\n`);
  });
  return 0;
}
