// Detection settings: the same validation for `podspan analyze --detect PATH=VALUE` and the agent's
// `detect:` object (config file and both CRDs), defaults filled in, each bad value refused with
// one line naming the flag or field.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECT, parseDetectConfig, parseDetectFlags } from '../../src/config/detect-options';
import { parseAnalyzeFlags } from '../../src/config/analyze-options';
import { loadAgentConfig } from '../../src/config/agent-config';
import { UsageError } from '../../src/errors';
import { podspan, repoRoot } from '../helpers/tools';

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-detect-options-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('detection settings', () => {
  it('fills every default and overrides only what is given', () => {
    expect(parseDetectFlags([])).toEqual(DEFAULT_DETECT);
    const s = parseDetectFlags(['synFlood.floor=500', 'synFlood.k=4', 'preTriggerSeconds=30', 'maxEvidenceFiles=3', 'noisyClient.share=0.8']);
    expect(s.synFlood).toEqual({ ...DEFAULT_DETECT.synFlood, floor: 500, k: 4 });
    expect(s.noisyClient.share).toBe(0.8);
    expect(s.evidence).toEqual({ ...DEFAULT_DETECT.evidence, preTriggerSeconds: 30, maxFiles: 3 });
    expect(s.portScan).toEqual(DEFAULT_DETECT.portScan);
  });

  it('refuses bad flags with one line naming the culprit', () => {
    const cases: [string[], RegExp][] = [
      [['synFlood'], /--detect synFlood: give PATH=NUMBER/],
      [['synFlood.floor=lots'], /--detect synFlood.floor=lots: lots is not a number/],
      [['synFlood.flor=5'], /--detect: synFlood: unknown field flor \(known: floor, k, minSeconds, clearSeconds, halfOpenShare\)$/],
      [['synflood.floor=5'], /--detect: unknown field synflood \(known: baselineHalflifeS, warmupSeconds, synFlood, portScan, /],
      [['synFlood.halfOpenShare=2'], /--detect: synFlood.halfOpenShare: Number must be less than or equal to 1/],
      [['preTriggerMB=100000'], /--detect: preTriggerMB: Number must be less than or equal to 4096/],
      [['portScan.minSeconds=0.5'], /--detect: portScan.minSeconds: Expected integer/],
      [['preTriggerSeconds=1', 'preTriggerSeconds.x=2'], /preTriggerSeconds is not a group/],
    ];
    for (const [flags, message] of cases) {
      expect(() => parseDetectFlags(flags), flags.join(' ')).toThrow(UsageError);
      expect(() => parseDetectFlags(flags), flags.join(' ')).toThrow(message);
    }
  });

  it('analyze takes --detect only with --alerts', () => {
    expect(() => parseAnalyzeFlags({ read: 'x.pcap', outDir: 'o', detect: ['synFlood.floor=5'] })).toThrow(/add --alerts/);
    expect(parseAnalyzeFlags({ read: 'x.pcap', outDir: 'o' }).detect).toBeUndefined();
    expect(parseAnalyzeFlags({ read: 'x.pcap', outDir: 'o', alerts: true, detect: ['synFlood.floor=5'] }).detect?.synFlood.floor).toBe(5);
  });

  it('the CLI says so in one line and exits 2', () => {
    const r = podspan(['analyze', '-r', 'fixtures/sample-20.pcap', '-o', path.join(tmp, 'o'), '--alerts', '--detect', 'synFlood.floor=-1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['podspan: --detect: synFlood.floor: Number must be greater than or equal to 0']);
  });

  it('the agent takes the same object under detect, with evidenceDir', () => {
    const f = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(f, `sessions:\n  - name: web\n    sources: { interfaces: [eth0] }\n    detect: { synFlood: { floor: 50 }, preTriggerMB: 8, evidenceDir: /var/lib/podspan/evidence }\n    targets: [ { vxlan: vxlan://10.0.0.9 } ]\n`);
    const { sessions } = loadAgentConfig(f, {});
    expect(sessions[0].detectSettings?.synFlood.floor).toBe(50);
    expect(sessions[0].detectSettings?.evidence.preTriggerMB).toBe(8);
    expect(sessions[0].detect?.evidenceDir).toBe('/var/lib/podspan/evidence');
    fs.writeFileSync(f, `sessions:\n  - name: web\n    sources: { interfaces: [eth0] }\n    detect: { synFlod: {} }\n    targets: [ { vxlan: vxlan://10.0.0.9 } ]\n`);
    expect(() => loadAgentConfig(f, {})).toThrow(`${f}: sessions[0].detect: unknown field synFlod`);
  });

  it('both CRDs declare every field the agent accepts under detect', () => {
    const fields = ['baselineHalflifeS', 'warmupSeconds', 'synFlood', 'portScan', 'requestSurge', 'errorSurge', 'noisyClient', 'maxServers', 'maxRoutes', 'maxSources', 'maxPairs', 'preTriggerSeconds', 'preTriggerMB', 'postTriggerSeconds', 'maxEvidenceFiles', 'evidenceDir'];
    for (const name of ['crd-mirrorsession.yaml', 'crd-clustermirrorsession.yaml']) {
      const crd = parseYaml(fs.readFileSync(path.join(repoRoot, 'deploy', name), 'utf8'));
      const detect = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.detect;
      expect(Object.keys(detect.properties).sort(), name).toEqual([...fields].sort());
      expect(Object.keys(detect.properties.synFlood.properties).sort()).toEqual(['clearSeconds', 'floor', 'halfOpenShare', 'k', 'minSeconds']);
    }
  });
});
