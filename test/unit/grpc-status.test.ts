// The agent's Mirror.Stream goes without grpc-js (src/forward/grpc-status.ts, mirror-target.ts):
// its table of status codes is grpc-js's, and the forwarder's modules, as `podspan capture
// --forward` runs them (dist/), load no grpc-js at all (65 modules, ~40 ms of CPU per start).
import { spawnSync } from 'node:child_process';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GrpcCode, grpcCodeName } from '../../src/forward/grpc-status';
import { repoRoot } from '../helpers/tools';

describe('gRPC status codes without grpc-js', () => {
  it('are grpc-js’s codes, names both ways', () => {
    const theirs = Object.entries(status).filter(([, v]) => typeof v === 'number');
    expect(Object.entries(GrpcCode)).toEqual(theirs);
    for (const [name, code] of theirs) expect(grpcCodeName(code as number)).toBe(name);
    expect(grpcCodeName(17)).toBeUndefined();
  });

  it('the agent’s forwarder loads no grpc-js module', () => {
    const script = `require('./dist/forward/grpc-forwarder'); require('./dist/forward/grpc-fanout');
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('@grpc/grpc-js'))))`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
