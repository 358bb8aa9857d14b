// Stream events in JavaScript: the exact event sequence of a crafted capture; tiny batches and a
// one-batch queue lose nothing when reading a file; and on every corpus capture the bytes
// rebuilt from the events equal the files `podspan streams` writes for the same capture.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureSession, type CaptureOptions } from '../../src/capture/session';
import { UsageError } from '../../src/errors';
import type { StreamEvent, StreamEventBatch } from '../../src/reassembly/stream-events';
import { tcpConversation, writePcap } from '../helpers/craft';
import { corpusDir, corpusEntries, readIndex } from '../helpers/tools';

const SYN = 0x02, ACK = 0x10, FIN = 0x01, PSH = 0x08, RST = 0x04;
let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-events-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const base = (file: string): CaptureOptions => ({ source: { kind: 'file', path: file }, snaplen: 262144, promisc: false, immediate: false, timeoutMs: 100 });

async function collect(file: string, streamEvents: CaptureOptions['streamEvents'] = {}) {
  const batches: StreamEventBatch[] = [];
  const session = CaptureSession.open({ ...base(file), streamEvents });
  const result = await session.start(undefined, (b) => batches.push(b));
  return { batches, result, events: batches.flatMap((b) => [...b.events()]) };
}

/** Each stream direction's bytes, gaps as zeros, keyed "id/dir"; plus each stream's open event. */
function rebuild(events: StreamEvent[]) {
  const bytes = new Map<string, Buffer[]>();
  const lengths = new Map<string, number>();
  const opens = new Map<number, Extract<StreamEvent, { type: 'open' }>>();
  for (const e of events) {
    if (e.type === 'open') opens.set(e.stream, e);
    if (e.type !== 'data' && e.type !== 'gap') continue;
    const key = `${e.stream}/${e.dir}`;
    expect(e.offset).toBe(lengths.get(key) ?? 0); // in order, nothing skipped
    const chunk = e.type === 'data' ? Buffer.from(e.bytes) : Buffer.alloc(e.length);
    bytes.set(key, [...(bytes.get(key) ?? []), chunk]);
    lengths.set(key, e.offset + chunk.length);
  }
  return { streams: new Map([...bytes].map(([k, v]) => [k, Buffer.concat(v)])), opens };
}

function crafted(): string {
  const { packets: pkts, tcp } = tcpConversation();
  tcp(true, 100, SYN);
  tcp(false, 900, SYN | ACK);
  tcp(true, 107, ACK | PSH, 'world '); // ahead of "hello "
  tcp(true, 101, ACK | PSH, 'hello ');
  tcp(false, 901, ACK | PSH, 'HTTP/1.1 200');
  tcp(false, 918, ACK | PSH, 'tail'); // 5 bytes [913, 918) never captured
  tcp(true, 113, ACK | FIN);
  tcp(false, 922, ACK | FIN);
  tcp(true, 5000, SYN); // the same 4-tuple again, then reset
  tcp(true, 5001, ACK | PSH, 'again');
  tcp(true, 5006, RST);
  const file = path.join(tmp, 'crafted.pcap');
  writePcap(file, pkts);
  return file;
}

describe('stream events to JavaScript', () => {
  it('delivers open, data in order, the gap with its length, and close with its reason', async () => {
    const { events, result } = await collect(crafted());
    expect(result.error).toBeUndefined();
    const summary = events.map((e) => {
      if (e.type === 'open') return `open ${e.stream} ${e.side[0].address}:${e.side[0].port} ${e.side[1].address}:${e.side[1].port} v${e.ipVersion} vlan${e.vlan}`;
      if (e.type === 'data') return `data ${e.stream}/${e.dir} @${e.offset} ${e.bytes.toString()}`;
      if (e.type === 'gap') return `gap ${e.stream}/${e.dir} @${e.offset} +${e.length}${e.queueDrop ? ' queue' : ''}`;
      return `close ${e.stream} ${e.reason}`;
    });
    expect(summary).toEqual([
      'open 1 198.18.0.1:40000 198.18.0.2:80 v4 vlan0',
      'data 1/0 @0 hello ',
      'data 1/0 @6 world ',
      'data 1/1 @0 HTTP/1.1 200',
      'gap 1/1 @12 +5',
      'data 1/1 @17 tail',
      'close 1 fin',
      'open 2 198.18.0.1:40000 198.18.0.2:80 v4 vlan0',
      'data 2/0 @0 again',
      'close 2 rst',
    ]);
    const open = events[0];
    expect(open.timestampNs).toBe(1_700_000_000_001_000_000n);
    expect(result.streamStats).toMatchObject({ streams: 2, gaps: 1, gapBytes: 5, droppedDataBytes: 0, droppedEvents: 0 });
  });

  it('loses nothing through one-event batches and a one-batch queue when reading a file', async () => {
    const { events, batches, result } = await collect(crafted(), { maxEvents: 1, queueBatches: 1 });
    expect(batches.length).toBeGreaterThanOrEqual(5); // a batch closes after the packet that filled it
    expect(events).toHaveLength(10);
    expect(result.streamStats?.droppedDataBytes).toBe(0);
    expect(rebuild(events).streams.get('1/0')?.toString()).toBe('hello world ');
  });

  it('refuses stream files and stream events together, naming both', () => {
    expect(() => CaptureSession.open({ ...base('x.pcap'), streams: { dir: tmp }, streamEvents: {} })).toThrow(UsageError);
  });
});

const corpus = corpusDir();
if (!corpus) console.log('stream events corpus comparison skipped: set PODSPAN_CORPUS or put the corpus in ../shared/corpus');

describe.skipIf(!corpus)('stream events against podspan streams on the corpus', () => {
  it('rebuilds from the events exactly the bytes of every stream file', async () => {
    let compared = 0;
    for (const e of corpusEntries(corpus!).filter((c) => !c.corrupt)) {
      const out = path.join(tmp, 'files', e.file);
      const files = CaptureSession.open({ ...base(e.path), streams: { dir: out } });
      await files.start();
      const { events } = await collect(e.path);
      const { streams, opens } = rebuild(events);
      for (const entry of readIndex(out)) {
        const open = opens.get(entry.stream);
        expect(open, `${e.file} stream ${entry.stream}`).toBeDefined();
        const dir = open!.side[0].address === entry.src && open!.side[0].port === entry.sport ? 0 : 1;
        const fromEvents = streams.get(`${entry.stream}/${dir}`) ?? Buffer.alloc(0);
        const fromFile = fs.readFileSync(path.join(out, entry.file));
        expect(fromEvents.equals(fromFile), `${e.file} ${entry.file}`).toBe(true);
        compared++;
      }
      fs.rmSync(out, { recursive: true, force: true });
    }
    expect(compared).toBeGreaterThanOrEqual(261);
  }, 300_000);
});
