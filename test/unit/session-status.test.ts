// MirrorSession status as the agents write it (src/k8s/session-status.ts): one entry per node,
// totals and the Ready condition over every node's entry, the condition's transition time kept
// while its status stays; and the agent's own part (src/agent/agent.ts nodeShares): what it
// reports per resource, and failures that end when the capture stops being wanted.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent';
import type { NodeShare } from '../../src/agent/node-share';
import { validateSession } from '../../src/config/agent-config';
import { nodeStatus, sessionStatus } from '../../src/k8s/session-status';
import { run } from '../helpers/tools';

const ref = { kind: 'MirrorSession' as const, namespace: 'shop', name: 'audit' };
const share = (over: Partial<NodeShare> = {}): NodeShare => ({ resource: ref, pods: 2, captures: 2, captured: 30, dropped: 1, forwarded: 29, problems: [], ...over });
const t0 = new Date('2026-11-28T10:00:00Z');
const t1 = new Date('2026-11-28T10:00:10Z');

describe('session status', () => {
  it('sums every node\'s entry, this node\'s fresh one replacing what was seen of it', () => {
    const seen = { nodes: [nodeStatus('a', share({ captured: 5 }), t0), nodeStatus('b', share({ pods: 1, captured: 7, dropped: 0, forwarded: 7 }), t0)] };
    const st = sessionStatus(nodeStatus('a', share(), t1), seen, t1);
    expect(st.nodes.map((n) => [n.node, n.captured])).toEqual([['a', 30], ['b', 7]]);
    expect(st).toMatchObject({ pods: 3, captured: 37, dropped: 1, forwarded: 36, nodesReady: '2/2' });
    expect(st.conditions).toEqual([{ type: 'Ready', status: 'True', reason: 'Capturing', message: '2 node(s) capturing as asked', lastTransitionTime: t1.toISOString() }]);
  });

  it('is not ready while any node has a problem, naming the node and the problem; keeps the transition time while the status stays', () => {
    const bad = share({ captures: 0, problems: [{ reason: 'CaptureFailed', subject: 'veth1', message: 'veth1: no such device', pod: { namespace: 'shop', name: 'cart-1', uid: 'u1' } }] });
    const first = sessionStatus(nodeStatus('a', bad, t0), { nodes: [nodeStatus('b', share(), t0)] }, t0);
    expect(first.nodes.find((n) => n.node === 'a')).toMatchObject({ ready: false, reason: 'CaptureFailed', message: 'pod shop/cart-1: veth1: no such device' });
    expect(first.conditions[0]).toEqual({ type: 'Ready', status: 'False', reason: 'CaptureFailed', message: 'a: pod shop/cart-1: veth1: no such device', lastTransitionTime: t0.toISOString() });
    expect(first.nodesReady).toBe('1/2');
    const later = sessionStatus(nodeStatus('a', bad, t1), first, t1);
    expect(later.conditions[0].lastTransitionTime).toBe(t0.toISOString());
    const healed = sessionStatus(nodeStatus('a', share(), t1), first, t1);
    expect(healed.conditions[0]).toMatchObject({ status: 'True', lastTransitionTime: t1.toISOString() });
  });

  it('ignores entries that are not node entries (a status written by hand)', () => {
    const st = sessionStatus(nodeStatus('a', share(), t0), { nodes: [null, { pods: 9 }, 'x'] }, t0);
    expect(st.nodes.map((n) => n.node)).toEqual(['a']);
    expect(st.pods).toBe(2);
  });
});

describe('the agent\'s failures', () => {
  it('end when the failing capture is no longer wanted (podspan_capture_failures back to 0), and leave no folder behind', async () => {
    const log = pino({ level: 'silent' });
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-failures-'));
    // A real capture start on an interface that does not exist: libpcap refuses it.
    const agent = new Agent('n', log, { interfaceNames: () => ['podspan-none0'] });
    const targets = [{ pcap: { dir: path.join(tmp, 'pcap', 'deep') } }, { streams: { dir: path.join(tmp, 'streams') } }];
    const session = { ...validateSession({ name: 'gone', sources: { interfaces: ['podspan-none0'] }, targets }, 'test'), forward: [] };
    await agent.setConfigSessions([session]);
    expect([...agent.failures.values()].map((f) => f.spec.iface)).toEqual(['podspan-none0']);
    expect(run('find', [tmp]).stdout).toBe(tmp + '\n'); // the folders it made for its files are gone again
    fs.rmSync(tmp, { recursive: true, force: true });
    expect(await agent.registry.getSingleMetricAsString('podspan_capture_failures')).toMatch(/podspan_capture_failures 1$/);
    await agent.setConfigSessions([]);
    expect(agent.failures.size).toBe(0);
    expect(await agent.registry.getSingleMetricAsString('podspan_capture_failures')).toMatch(/podspan_capture_failures 0$/);
    await agent.stop();
  });
});
