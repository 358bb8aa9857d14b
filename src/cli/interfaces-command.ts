// `podspan interfaces`: every interface libpcap can capture on, with addresses and flags; and
// tcpdump's -D, -L and -J lists for `podspan capture`.
import { deviceLinkTypes, deviceTimeStampTypes, listInterfaces } from '../capture/session';
import { PRINTED_LINK_TYPES } from './print/link';

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

/**
 * `podspan capture -L` and `-J`: each interface's link types or time stamp types, in tcpdump's
 * words ("printing not supported": a link type whose packets podspan's lines do not decode). An
 * interface whose time stamp type cannot be set says so on stderr, as tcpdump does.
 */
export function runTypesLikeTcpdump(kind: 'link-types' | 'time-stamp-types', devices: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  for (const device of devices) {
    const types = kind === 'link-types' ? deviceLinkTypes(device) : deviceTimeStampTypes(device);
    if (kind === 'time-stamp-types' && types.length === 0) {
      err.write(`Time stamp type cannot be set for ${device}\n`);
      continue;
    }
    out.write(kind === 'link-types' ? `Data link types for ${device} (use option -y to set):\n` : `Time stamp types for ${device} (use option -j to set):\n`);
    for (const t of types) {
      if (kind === 'time-stamp-types') out.write(t.name ? `  ${t.name} (${t.description})\n` : `  ${t.value}\n`);
      else out.write(`  ${t.name ? `${t.name} (${t.description})` : `DLT ${t.value}`}${PRINTED_LINK_TYPES.has(t.value) ? '' : ' (printing not supported)'}\n`);
    }
  }
  return 0;
}
