// No Docker engine runs here, so the Dockerfile is checked statically: two stages, libpcap
// headers only where the addon is built, a non-root user, and only the capture capabilities.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/tools';

const text = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const stages = text.split(/^FROM /m).slice(1);

describe('Dockerfile', () => {
  it('has a build stage with libpcap headers and a slim runtime stage without them', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/ AS build/);
    expect(stages[0]).toContain('libpcap-dev');
    expect(stages[0]).toMatch(/npm ci/);
    expect(stages[1]).toMatch(/-slim AS runtime/);
    expect(stages[1]).toContain('libpcap0.8');
    expect(stages[1]).not.toContain('libpcap-dev');
    expect(stages[1]).not.toMatch(/\bg\+\+|build-essential/);
  });

  it('runs as a non-root user with only CAP_NET_RAW and CAP_NET_ADMIN', () => {
    expect(stages[1]).toMatch(/^USER podspan$/m);
    const caps = stages[1].match(/setcap (\S+)/)?.[1];
    expect(caps).toBe('cap_net_raw,cap_net_admin+eip');
  });

  it('copies only files that exist in the repository', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) expect(fs.existsSync(path.join(repoRoot, src)), src).toBe(true);
    }
  });

  it('ships what the code loads at run time: the addon, dist/, bin/ and the proto files', () => {
    for (const p of ['/src/build/Release/podspan.node', '/src/dist', '/src/bin', '/src/proto']) expect(stages[1]).toContain(`COPY --from=build ${p} `);
  });

  it('starts the podspan CLI', () => {
    expect(text).toMatch(/ENTRYPOINT \["node", "\/opt\/podspan\/bin\/podspan"\]/);
  });
});
