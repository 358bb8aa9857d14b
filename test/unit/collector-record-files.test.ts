// The collector's JSONL files of an agent's records rotate like its pcapng: -C by size, -G by the
// collector's clock (a clock the test sets), -W keeping the newest; whole lines only.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentRecordFiles } from '../../src/collector/agent-records';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-record-files-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const line = (n: number) => Buffer.from(`{"uid":"C${n}"}\n`);

describe('collector record files', () => {
  it('-G: a file open rotateSeconds by the collector clock gets a successor; -W keeps the newest', () => {
    let now = 1_000_000;
    const files = new AgentRecordFiles(path.join(tmp, 'agent'), { rotateSeconds: 60, rotateFiles: 2 }, () => now);
    files.write([{ kind: 'http', lines: line(1) }]);
    now += 59_999; // still within the minute
    files.write([{ kind: 'http', lines: line(2) }]);
    now += 1; // a minute after the first file opened
    files.write([{ kind: 'http', lines: line(3) }]);
    now += 60_000;
    files.write([{ kind: 'http', lines: line(4) }, { kind: 'dns', lines: line(5) }]);
    files.close();
    const read = (f: string) => fs.readFileSync(path.join(tmp, f), 'utf8');
    expect(fs.readdirSync(tmp).sort()).toEqual(['agent.dns.jsonl', 'agent.http.2.jsonl', 'agent.http.3.jsonl']);
    expect(read('agent.http.2.jsonl')).toBe('{"uid":"C3"}\n');
    expect(read('agent.http.3.jsonl')).toBe('{"uid":"C4"}\n');
    expect(read('agent.dns.jsonl')).toBe('{"uid":"C5"}\n');
  });
});
