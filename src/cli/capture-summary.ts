// The end of a capture in tcpdump's words (packets read, captured, received by filter, dropped),
// per interface when there are several, and a line per forwarding target: printed by capture,
// analyze (live) and shadow. A module of its own so that those commands do not load capture's.
import type { CaptureResult } from '../capture/session';

export function summaryLines(result: CaptureResult, live: boolean): string[] {
  const sum = (key: keyof CaptureResult['stats'][number]) => result.stats.reduce((n, s) => n + s[key], 0);
  const lines: string[] = [];
  if (!live) lines.push(`${result.packetsRead} packets read`);
  lines.push(`${sum('captured')} packets captured`);
  lines.push(`${sum('received')} packets received by filter`);
  if (live) {
    lines.push(`${sum('droppedKernel')} packets dropped by kernel`);
    lines.push(`${sum('droppedInterface')} packets dropped by interface`);
  }
  const queued = sum('droppedQueue');
  if (queued > 0) lines.push(`${queued} packets dropped by podspan (output queue full)`);
  if (result.stats.length > 1) {
    result.stats.forEach((s, i) => {
      const name = result.interfaces[i]?.name || `interface ${i}`;
      const drops = live ? `, ${s.droppedKernel} dropped by kernel, ${s.droppedInterface} dropped by interface` : '';
      lines.push(`  ${name}: ${s.captured} captured, ${s.received} received by filter${drops}`);
    });
  }
  if (result.files.length > 1) lines.push(`${result.files.length} files: ${result.files[0]} … ${result.files[result.files.length - 1]}`);
  for (const f of result.forward) {
    const notes = [
      f.truncated && `${f.truncated} truncated`,
      f.oversizeFragmented && `${f.oversizeFragmented} over the MTU (fragmented)`,
      f.oversizeTruncated && `${f.oversizeTruncated} over the MTU (truncated)`,
      f.unsupported && `${f.unsupported} of an unsupported link type not sent`,
    ].filter(Boolean);
    lines.push(`${f.target}: ${f.frames} frames sent, ${f.sendErrors} dropped (send failed)${notes.length ? `, ${notes.join(', ')}` : ''}`);
  }
  return lines;
}
