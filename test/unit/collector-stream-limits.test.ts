// The collector's stream limit flags become typed limits, and bad values are refused naming the flag.
import { describe, expect, it } from 'vitest';
import { parseCollectorFlags } from '../../src/config/collector-options';

const base = { listen: '127.0.0.1:0', out: '/tmp/x' };

describe('collector limit flags', () => {
  it('are optional (the collector applies its defaults) and parsed when given', () => {
    expect(parseCollectorFlags(base).streamLimits).toEqual({});
    expect(parseCollectorFlags({ ...base, maxMessageMb: '8', maxStreams: '16', shutdownTimeout: '2.5' }).streamLimits).toEqual({
      maxMessageBytes: 8 << 20,
      maxStreams: 16,
      shutdownTimeoutMs: 2500,
    });
  });

  it('refuse values out of range with one line naming the flag', () => {
    expect(() => parseCollectorFlags({ ...base, maxMessageMb: '0.5' })).toThrow(/^--max-message-mb: between 1 and 64/);
    expect(() => parseCollectorFlags({ ...base, maxMessageMb: '100' })).toThrow(/^--max-message-mb: between 1 and 64/);
    expect(() => parseCollectorFlags({ ...base, maxStreams: '0' })).toThrow(/^--max-streams takes a whole number of at least 1/);
    expect(() => parseCollectorFlags({ ...base, shutdownTimeout: 'soon' })).toThrow(/^--shutdown-timeout takes seconds/);
  });
});
