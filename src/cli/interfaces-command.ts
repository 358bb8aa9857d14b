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
