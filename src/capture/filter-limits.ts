// How big a BPF expression podspan hands to libpcap. libpcap's optimiser is steeply superlinear
// in the number of terms, and some terms cost far more than others. Measured with tcpdump -d
// (CPU time): `port 1 or port 2 or ...` 0.14 s for 100 ports, 0.28 s for 128, 0.54 s for 160,
// 2.3 s for 256; 128 `portrange` terms 1.9 s; a session of 1,000 ports took over 100 s. Past
// these limits the filter is refused with one line, and an open that still takes too long is
// refused by its time limit, instead of tying up a thread for minutes.

/** Terms: primitives joined by and/or (`port 80 or port 443` is two). */
export const MAX_FILTER_TERMS = 128;
/** Characters, whatever the terms. */
export const MAX_FILTER_LENGTH = 16_384;
/** How long opening a capture (activation and filter compile) may take before it is refused. */
export const DEFAULT_OPEN_TIMEOUT_MS = 30_000;

export function filterTerms(expression: string): number {
  return 1 + (expression.match(/\b(?:and|or)\b|&&|\|\|/g)?.length ?? 0);
}

/** Why `expression` is too big to compile, or undefined when it is not. */
export function filterTooBig(expression: string): string | undefined {
  if (expression.length > MAX_FILTER_LENGTH) {
    return `filter of ${expression.length} characters refused: at most ${MAX_FILTER_LENGTH}`;
  }
  const terms = filterTerms(expression);
  if (terms > MAX_FILTER_TERMS) {
    return `filter of ${terms} terms refused: at most ${MAX_FILTER_TERMS} (libpcap's compile time grows steeply with them); use portrange or split the session`;
  }
  return undefined;
}
