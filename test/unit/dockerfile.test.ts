// No Docker engine runs here, so the Dockerfile is checked statically: a build stage, a slim
// collector image without capabilities and the agent image on top of it, libpcap headers only
// where the addon is built, a non-root user, and only the capture capabilities on the agent.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/tools';

const text = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const stages = text.split(/^FROM /m).slice(1);
const [build, collector, agent] = stages;

describe('Dockerfile', () => {
  it('has a build stage with libpcap headers, then a slim collector and the agent (the default target) on it', () => {
    expect(stages).toHaveLength(3);
    expect(build).toMatch(/ AS build/);
    expect(build).toContain('libpcap-dev');
    expect(build).toMatch(/npm ci/);
    expect(collector).toMatch(/-slim AS collector/);
    expect(collector).toContain('libpcap0.8');
    expect(agent).toMatch(/^collector AS agent/);
    for (const s of [collector, agent]) {
      expect(s).not.toContain('libpcap-dev');
      expect(s).not.toMatch(/\bg\+\+|build-essential/);
    }
  });

  it('runs both as a non-root user; only the agent gets a capability, CAP_NET_RAW alone', () => {
    for (const s of [collector, agent]) expect(s.trim().split('\n').filter((l) => l.startsWith('USER ')).pop()).toBe('USER podspan');
    expect(collector).not.toContain('setcap');
    expect(agent.match(/setcap (\S+)/)?.[1]).toBe('cap_net_raw+eip');
    expect(text.split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/cap_net_admin/i);
    expect(agent).toContain('iproute2'); // pod -> host interface mapping
  });

  it('copies only files that exist in the repository', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) expect(fs.existsSync(path.join(repoRoot, src)), src).toBe(true);
    }
  });

  it('ships what the code loads at run time: the addon, dist/, bin/ and the proto files', () => {
    for (const p of ['/src/build/Release/podspan.node', '/src/dist', '/src/bin', '/src/proto']) expect(collector).toContain(`COPY --from=build ${p} `);
  });

  it('starts the podspan CLI', () => {
    expect(collector).toMatch(/ENTRYPOINT \["node", "\/opt\/podspan\/bin\/podspan"\]/);
  });
});
