import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findCommand } from '../../src/config/command-path';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-command-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('findCommand (-z)', () => {
  it('finds a program as execvp would: by its path with a slash, else the first executable in PATH', () => {
    fs.mkdirSync(path.join(dir, 'a'));
    fs.mkdirSync(path.join(dir, 'b'));
    fs.writeFileSync(path.join(dir, 'a', 'tool'), 'not executable', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'b', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    fs.mkdirSync(path.join(dir, 'a', 'folder'));
    const searchPath = `${path.join(dir, 'a')}:${path.join(dir, 'b')}`;
    expect(findCommand('tool', searchPath)).toBe(path.join(dir, 'b', 'tool'));
    expect(findCommand('folder', searchPath)).toBeUndefined();
    expect(findCommand('missing', searchPath)).toBeUndefined();
    expect(findCommand(path.join(dir, 'b', 'tool'), '')).toBe(path.join(dir, 'b', 'tool'));
    expect(findCommand(path.join(dir, 'a', 'tool'), searchPath)).toBeUndefined();
    expect(findCommand('sh')).toMatch(/\/sh$/);
  });
});
