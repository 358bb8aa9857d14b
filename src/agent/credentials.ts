// A namespaced MirrorSession's collector credentials come from a Secret, as bytes; the gRPC
// forwarder (src/forward) reads its token and TLS material from files. So the bytes are written,
// readable by the agent's user only, to a private folder that is removed as soon as the
// forwarders have read them (they read once, when constructed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GrpcCredentials } from '../config/agent-config';
import type { ForwardTarget } from '../config/forward-options';

/** Calls `use` with `targets` whose gRPC entries point at files holding `credentials` (by index), then removes the files. */
export function withCredentialFiles<T>(targets: ForwardTarget[], credentials: Map<number, GrpcCredentials> | undefined, use: (targets: ForwardTarget[]) => T): T {
  if (!credentials?.size) return use(targets);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podspan-credentials-')); // mode 0700
  try {
    const write = (i: number, role: string, bytes: Buffer | undefined) => {
      if (!bytes) return undefined;
      const file = path.join(dir, `${i}-${role}`);
      fs.writeFileSync(file, bytes, { mode: 0o600 });
      return file;
    };
    const withFiles = targets.map((t, i) => {
      const c = credentials.get(i);
      if (!c || t.kind !== 'grpc') return t;
      const tls = c.ca || c.cert ? { ...t.tls, ca: write(i, 'ca', c.ca), cert: write(i, 'cert', c.cert), key: write(i, 'key', c.key) } : t.tls;
      return { ...t, tls, tokenFile: write(i, 'token', c.token) };
    });
    return use(withFiles);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
