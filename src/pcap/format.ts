// Capture file formats we write, and how a file name picks one (as tcpdump/dumpcap users expect).
import path from 'node:path';

export const CAPTURE_FORMATS = ['pcap', 'pcap-ns', 'pcapng'] as const;
export type CaptureFormat = (typeof CAPTURE_FORMATS)[number];

/** .pcapng → pcapng; anything else (.pcap, /dev/null, no extension) → pcap with µs timestamps. */
export function formatFromPath(file: string): CaptureFormat {
  return path.extname(file).toLowerCase() === '.pcapng' ? 'pcapng' : 'pcap';
}
