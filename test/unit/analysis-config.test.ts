// The agent's analyze option and analytics caps: defaults, validation with one message naming
// the field, a changed analyze restarting the capture (its spec key changes), and both CRDs
// declaring `analyze` as the config does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { specKey } from '../../src/agent/mirror-capture';
import { loadAgentConfig } from '../../src/config/agent-config';
import { repoRoot } from '../helpers/tools';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-analysis-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const load = (text: string) => {
  const f = path.join(tmp, `c${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(f, text);
  return loadAgentConfig(f, {});
};
const session = (extra: string) => `sessions:\n  - name: web\n    sources: { interfaces: [eth0] }\n    targets: [{ grpc: "grpc://c:50051" }]\n${extra}`;

describe('agent analyze option', () => {
  it('defaults: analyze off, 500 servers and 100 routes per server', () => {
    const { config, sessions } = load(session(''));
    expect(sessions[0].analyze).toBe(false);
    expect(config.analytics).toEqual({ maxServers: 500, maxRoutesPerServer: 100 });
  });

  it('takes analyze: true and the caps', () => {
    const { config, sessions } = load(`analytics: { maxServers: 20, maxRoutesPerServer: 5 }\n` + session('    analyze: true\n'));
    expect(sessions[0].analyze).toBe(true);
    expect(config.analytics).toEqual({ maxServers: 20, maxRoutesPerServer: 5 });
  });

  it('refuses bad values in one message naming the field', () => {
    expect(() => load(session('    analyze: "yes"\n'))).toThrow(/sessions\[0\]\.analyze: Expected boolean, received string/);
    expect(() => load(`analytics: { maxServers: 0 }\n` + session(''))).toThrow(/analytics\.maxServers: Number must be greater than or equal to 1/);
    expect(() => load(`analytics: { maxRoutes: 3 }\n` + session(''))).toThrow(/analytics: unknown field maxRoutes/);
  });

  it('turning analyze on or off restarts the capture (the spec key changes)', () => {
    const off = load(session('')).sessions[0];
    const on = load(session('    analyze: true\n')).sessions[0];
    expect(specKey(off, 'eth0')).not.toBe(specKey(on, 'eth0'));
  });

  it('both CRDs declare analyze as a boolean defaulting to false', () => {
    for (const f of ['crd-mirrorsession.yaml', 'crd-clustermirrorsession.yaml']) {
      const crd = parseYaml(fs.readFileSync(path.join(repoRoot, 'deploy', f), 'utf8'));
      const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
      expect(spec.analyze, f).toMatchObject({ type: 'boolean', default: false });
    }
  });
});
