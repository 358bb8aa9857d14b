// TLS files named by a flag or in a URL, read and checked once: a file that is not PEM, a key
// that does not belong to its certificate, or a CA file without a certificate is one line naming
// how the user named the file. Before, a bad `--forward grpc://...?cert=` ended as "internal
// error: error:0480006C:PEM routines::no start line", a bad --tls-cert was blamed on --listen,
// and a CA file holding no certificate was taken silently (every handshake then failed).
import fs from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { PodspanError } from '../errors';

/** A file and how the user named it (`--tls-cert FILE`, `grpc://...: cert=FILE`). */
export interface NamedFile {
  label: string;
  file: string;
}

export interface TlsFiles {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** OpenSSL's reason in words a user can act on. */
function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ERR_OSSL_PEM_NO_START_LINE') return 'not PEM (no -----BEGIN line)';
  if (e.code === 'ERR_OSSL_UNSUPPORTED') return 'not a private key in PEM';
  if (e.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') return 'the key does not belong to the certificate';
  return (e.message ?? String(err)).replace(/^error:[0-9A-F]+:[^:]*::?/, '');
}

/**
 * Reads what is given and checks it: each file PEM, the key the certificate's own, the CA file a
 * bundle of at least one certificate. A problem is thrown as `fail(message)`, the message naming
 * the file as the user did. Node's TLS is loaded only here (start-up of commands without TLS).
 */
export function loadTlsFiles(files: { cert?: NamedFile; key?: NamedFile; ca?: NamedFile }, fail: (message: string) => PodspanError): TlsFiles {
  const { createSecureContext } = require('node:tls') as typeof import('node:tls');
  const { X509Certificate } = require('node:crypto') as typeof import('node:crypto');
  const unreadable = (n: NamedFile, err: unknown) => fail(`${n.label}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  const read = (n: NamedFile): Buffer => {
    let folder: boolean;
    try {
      folder = fs.statSync(n.file).isDirectory();
    } catch (err) {
      throw unreadable(n, err);
    }
    if (folder) throw fail(`${n.label}: is a folder, not a file`);
    try {
      return fs.readFileSync(n.file);
    } catch (err) {
      throw unreadable(n, err);
    }
  };
  const context = (opts: SecureContextOptions, blame: string) => {
    try {
      createSecureContext(opts);
    } catch (err) {
      throw fail(`${blame}: ${reason(err)}`);
    }
  };
  const out: TlsFiles = {};
  if (files.cert) context({ cert: (out.cert = read(files.cert)) }, files.cert.label);
  if (files.key) context({ key: (out.key = read(files.key)) }, files.key.label);
  if (files.cert && files.key) context({ cert: out.cert, key: out.key }, `${files.key.label} and ${files.cert.label}`);
  if (files.ca) {
    out.ca = read(files.ca);
    const blocks = out.ca.toString('latin1').match(PEM_CERT) ?? [];
    if (!blocks.length) throw fail(`${files.ca.label}: no certificate in it (no -----BEGIN CERTIFICATE----- block)`);
    for (const [i, block] of blocks.entries()) {
      try {
        new X509Certificate(block);
      } catch (err) {
        throw fail(`${files.ca.label}: certificate ${i + 1} of ${blocks.length} does not parse: ${reason(err)}`);
      }
    }
  }
  return out;
}
