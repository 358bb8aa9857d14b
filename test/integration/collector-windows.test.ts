// The collector's HTTP/2 receive windows, as an HTTP/2 client sees them: grpc-js leaves a server
// at 64 KiB per stream and per connection, which made every agent wait a round trip each 64 KiB.
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectorLimits } from '../../src/collector/collector';
import { startCollector } from '../helpers/collector';
import { killStarted } from '../helpers/netns';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-windows-'));
afterAll(() => {
  killStarted();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('collector receive windows', () => {
  it('advertises the stream window in its SETTINGS and opens the connection window at once', async () => {
    const c = await startCollector(['--listen', '127.0.0.1:0', '--out', path.join(tmp, 'out')]);
    const session = http2.connect(`http://127.0.0.1:${c.port}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      expect(settings.initialWindowSize).toBe(collectorLimits.receiveWindows.streamBytes);
      // The WINDOW_UPDATE of the connection follows the SETTINGS frame: wait for it (bounded).
      const deadline = Date.now() + 5000;
      while (session.state.remoteWindowSize! < collectorLimits.receiveWindows.connectionBytes && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(session.state.remoteWindowSize).toBe(collectorLimits.receiveWindows.connectionBytes);
    } finally {
      session.destroy();
      c.child.kill('SIGINT');
      await c.exited;
    }
  }, 30_000);
});
