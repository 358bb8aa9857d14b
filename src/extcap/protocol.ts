// Wireshark's extcap protocol (extcap(4)): what Wireshark asks an extcap program and the lines it
// expects back. Interface values name podspan's sources:
//   podspan/local/IFACE          an interface of this host, captured here
//   podspan/all                  everything the configured collector receives
//   podspan/node/NODE            what one node's agent mirrors
//   podspan/pod/NAMESPACE/NAME   one pod, on whichever node it runs
import type { TapRequest } from '../collector/live-tap';
import { UsageError } from '../errors';

export interface ExtcapInterface {
  value: string;
  display: string;
}

export type ExtcapSource = { kind: 'local'; iface: string } | { kind: 'collector'; request: Omit<TapRequest, 'bpf'> };

/** Extcap fields are {key=value}: braces inside a value would end it. */
const field = (key: string, value: string | number) => `{${key}=${String(value).replace(/[{}]/g, '')}}`;

export function interfacesText(ifaces: ExtcapInterface[], version: string): string {
  const lines = [`extcap ${field('version', version)}${field('help', 'podspan: mirrored traffic from this host and the collector')}`];
  for (const i of ifaces) lines.push(`interface ${field('value', i.value)}${field('display', i.display)}`);
  return lines.join('\n') + '\n';
}

export function dltText(linktype: number, name: string): string {
  return `dlt ${field('number', linktype)}${field('name', name)}${field('display', name)}\n`;
}

/** The options Wireshark shows for a podspan interface; it passes them back on --capture. */
export function configText(collector: string | undefined): string {
  return (
    [
      `arg ${field('number', 0)}${field('call', '--collector')}${field('display', 'Collector')}${field('type', 'string')}` +
        `${field('tooltip', 'grpc://HOST:PORT, with ?tls=1&ca=FILE&token-file=FILE as for agents')}${collector ? field('default', collector) : ''}`,
    ].join('\n') + '\n'
  );
}

export function parseInterfaceValue(value: string): ExtcapSource {
  const parts = value.split('/');
  if (parts[0] === 'podspan') {
    const none = { node: '', podNamespace: '', podName: '', interface: '', session: '' };
    if (parts[1] === 'local' && parts.length === 3 && parts[2]) return { kind: 'local', iface: parts[2] };
    if (parts[1] === 'all' && parts.length === 2) return { kind: 'collector', request: none };
    if (parts[1] === 'node' && parts.length === 3 && parts[2]) return { kind: 'collector', request: { ...none, node: parts[2] } };
    if (parts[1] === 'pod' && parts.length === 4 && parts[2] && parts[3]) return { kind: 'collector', request: { ...none, podNamespace: parts[2], podName: parts[3] } };
  }
  throw new UsageError(`--extcap-interface ${value}: not a podspan interface (podspan/local/IFACE, podspan/all, podspan/node/NODE or podspan/pod/NAMESPACE/NAME)`);
}
