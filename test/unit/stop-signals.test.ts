// The agent's and the collector's stop: the first SIGINT/SIGTERM starts it, the second hurries
// it (once, also when both came before the stop asked), later ones change nothing; the exit
// deadline ends the process with one line unless cancelled.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exitDeadline, stopSignals } from '../../src/runtime/stop-signals';

const listeners = () => process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');

describe('stopSignals', () => {
  it('first signal starts the stop, the second hurries it once, later ones are ignored', async () => {
    const before = listeners();
    const signals = stopSignals();
    expect(listeners()).toBe(before + 2);
    const hurried: string[] = [];
    signals.onRepeat((s) => hurried.push(s));
    process.emit('SIGTERM', 'SIGTERM');
    expect(await signals.first).toBe('SIGTERM');
    expect(hurried).toEqual([]);
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    expect(hurried).toEqual(['SIGINT']);
    signals.dispose();
    expect(listeners()).toBe(before);
  });

  it('two signals in one turn, before the stop asked to be hurried: hurried as soon as it asks', async () => {
    const signals = stopSignals();
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    expect(await signals.first).toBe('SIGINT');
    const hurried: string[] = [];
    signals.onRepeat((s) => hurried.push(s));
    expect(hurried).toEqual(['SIGTERM']);
    signals.dispose();
  });
});

describe('exitDeadline', () => {
  const collect = (s: PassThrough) => {
    let text = '';
    s.on('data', (d) => (text += d));
    return () => text;
  };

  it('writes its line and exits 1 when the stop overruns', async () => {
    const err = new PassThrough();
    const text = collect(err);
    const codes: number[] = [];
    await new Promise<void>((done) => {
      exitDeadline(20, 'podspan collector: stop took longer than 0.02 s, exiting', err, (code) => {
        codes.push(code);
        done();
      });
    });
    expect(codes).toEqual([1]);
    expect(text()).toBe('podspan collector: stop took longer than 0.02 s, exiting\n');
  });

  it('does nothing once cancelled', async () => {
    const err = new PassThrough();
    const text = collect(err);
    const codes: number[] = [];
    const cancel = exitDeadline(20, 'never', err, (code) => codes.push(code));
    cancel();
    await new Promise((r) => setTimeout(r, 100));
    expect(codes).toEqual([]);
    expect(text()).toBe('');
  });
});
