// Address text as tcpdump -n prints it (inet_ntop's forms for IPv6, lowercase colon-hex MACs).

export function ipv4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text like glibc's inet_ntop: the longest run of 2+ zero groups becomes "::". */
export function ipv6(b: Buffer, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(o + i));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  // IPv4-compatible and IPv4-mapped forms end in dotted quad, as inet_ntop prints them.
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    return `::${bestLen === 5 ? 'ffff:' : ''}${ipv4(b, o + 12)}`;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += w[i].toString(16);
  }
  return out;
}

export function mac(b: Buffer, o: number, len = 6): string {
  let out = '';
  for (let i = 0; i < len; i++) out += (i ? ':' : '') + b[o + i].toString(16).padStart(2, '0');
  return out;
}

/**
 * "src.sport > dst.dport: ". Without addresses (IPv6 after extension headers, where tcpdump
 * printed them before the headers) only the ports.
 */
export function endpoints(srcText: string, dstText: string, sport: number, dport: number): string {
  return srcText ? `${srcText}.${sport} > ${dstText}.${dport}: ` : `${sport} > ${dport}: `;
}
