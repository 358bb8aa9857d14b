// Where the agent's Mirror.Stream goes (mirror-stream.ts) and what it sends with it: address, TLS
// files, the bearer token's header, window and keepalive. Without grpc-js: the agent does not load
// it (collector-channel.ts builds grpc-js's channel from the same files for the other clients).
// Files (CA, key, certificate, token) are read here, once; a file that cannot be read, or a TLS
// file that is not what it should be (config/tls-files.ts), is a ForwardError naming the target.
import fs from 'node:fs';
import type { GrpcTarget } from '../config/forward-options';
import { loadTlsFiles } from '../config/tls-files';
import { ForwardError } from '../errors';
import type { MirrorStreamTarget } from './mirror-stream';

/** Window and keepalive of long-lived streams of large messages (grpc-js's 64 KiB window is too small). */
export const STREAM_WINDOW_BYTES = 8 << 20;
export const KEEPALIVE_MS = 20_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;

export interface TargetFiles {
  tls?: { ca: Buffer | null; key: Buffer | null; cert: Buffer | null; serverName?: string };
  authorization?: string;
}

export function readTargetFiles(target: GrpcTarget): TargetFiles {
  const fail = (message: string) => new ForwardError(message);
  let tls: TargetFiles['tls'];
  if (target.tls) {
    const named = (param: string, file?: string) => (file ? { label: `${target.url}: ${param}=${file}`, file } : undefined);
    const f = loadTlsFiles({ ca: named('ca', target.tls.ca), cert: named('cert', target.tls.cert), key: named('key', target.tls.key) }, fail);
    tls = { ca: f.ca ?? null, key: f.key ?? null, cert: f.cert ?? null, serverName: target.tls.serverName };
  }
  let authorization: string | undefined;
  try {
    authorization = target.tokenFile ? `Bearer ${fs.readFileSync(target.tokenFile, 'utf8').trim()}` : undefined;
  } catch (err) {
    throw fail(`${target.url}: token-file=${target.tokenFile}: ${(err as Error).message}`);
  }
  return { tls, authorization };
}

/** The agent's Mirror.Stream to `target`, with the window and keepalive grpc-js's clients get too. */
export function mirrorStreamTarget(target: GrpcTarget): MirrorStreamTarget {
  const files = readTargetFiles(target);
  return {
    host: target.host,
    port: target.port,
    tls: files.tls,
    headers: files.authorization ? { authorization: files.authorization } : {},
    windowBytes: STREAM_WINDOW_BYTES,
    keepaliveMs: KEEPALIVE_MS,
    keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
  };
}
