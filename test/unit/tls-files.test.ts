// TLS files checked where they are named: real PEM from openssl passes and comes back as read;
// each kind of bad file is one message naming the file as the user did.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsFiles, type NamedFile } from '../../src/config/tls-files';
import { UsageError } from '../../src/errors';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.log('TLS file tests skipped: they need openssl to make real certificates');

describe.skipIf(!hasOpenssl)('loadTlsFiles', () => {
  let tmp: string;
  const f = (name: string) => path.join(tmp, name);
  const named = (flag: string, name: string): NamedFile => ({ label: `${flag} ${f(name)}`, file: f(name) });
  const fail = (m: string) => new UsageError(m);
  const problem = (files: Parameters<typeof loadTlsFiles>[0]) => {
    try {
      loadTlsFiles(files, fail);
      return 'none';
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
  };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-tls-files-'));
    for (const name of ['a', 'b']) {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`)]);
      expect(r.status, String(r.stderr)).toBe(0);
    }
    fs.writeFileSync(f('bundle.crt'), fs.readFileSync(f('a.crt')).toString() + fs.readFileSync(f('b.crt')).toString());
    fs.writeFileSync(f('text'), 'not a certificate\n');
    fs.writeFileSync(f('broken.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    fs.mkdirSync(f('folder'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a certificate, its key and a CA bundle of two: read and returned', () => {
    const got = loadTlsFiles({ cert: named('--tls-cert', 'a.crt'), key: named('--tls-key', 'a.key'), ca: named('--client-ca', 'bundle.crt') }, fail);
    expect(got.cert!.equals(fs.readFileSync(f('a.crt')))).toBe(true);
    expect(got.key!.equals(fs.readFileSync(f('a.key')))).toBe(true);
    expect(got.ca!.equals(fs.readFileSync(f('bundle.crt')))).toBe(true);
  });

  it('each bad file is one message naming it', () => {
    expect(problem({ cert: named('--tls-cert', 'text') })).toBe(`--tls-cert ${f('text')}: not PEM (no -----BEGIN line)`);
    expect(problem({ key: named('--tls-key', 'text') })).toBe(`--tls-key ${f('text')}: not a private key in PEM`);
    expect(problem({ cert: named('--tls-cert', 'a.crt'), key: named('--tls-key', 'b.key') })).toBe(
      `--tls-key ${f('b.key')} and --tls-cert ${f('a.crt')}: the key does not belong to the certificate`,
    );
    expect(problem({ ca: named('ca=', 'text') })).toBe(`ca= ${f('text')}: no certificate in it (no -----BEGIN CERTIFICATE----- block)`);
    expect(problem({ ca: named('ca=', 'broken.crt') })).toMatch(new RegExp(`^ca= ${f('broken.crt')}: certificate 1 of 1 does not parse: `));
    expect(problem({ cert: named('--tls-cert', 'folder') })).toBe(`--tls-cert ${f('folder')}: is a folder, not a file`);
    expect(problem({ cert: named('--tls-cert', 'missing') })).toBe(`--tls-cert ${f('missing')}: cannot read the file (ENOENT)`);
  });
});
