// A real S3-compatible object store for the tests (Versity Gateway over a folder, on 127.0.0.1),
// started by scripts/s3-test-env.sh from a binary it built into a cache outside the clone
// (`scripts/s3-test-env.sh build`; .ci/run does it). The bucket "podspan" exists from the start.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './tools';

const script = path.join(repoRoot, 'scripts', 's3-test-env.sh');

/** One line saying why the real S3 server cannot be used here, or undefined. */
export function s3EnvUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `the S3 test server needs Linux (this is ${process.platform})`;
  if (spawnSync('bash', [script, 'bin-dir']).status !== 0) return 'the S3 test server (versitygw) is not built: run scripts/s3-test-env.sh build';
  return undefined;
}

export interface S3Env {
  dir: string;
  /** AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and the SDK's Node warning off). */
  env: Record<string, string>;
  bucket: string;
  /** Stops the server, runs `meanwhile`, starts it again on the same port and data. */
  restart(meanwhile?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

export async function startS3Env(): Promise<S3Env> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // the tests' own S3 clients
  const why = s3EnvUnavailable();
  if (why) throw new Error(why);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `podspan-s3-${process.pid}-`));
  try {
    await run('bash', [script, 'start', dir], { timeout: 60_000, env: { ...process.env, PODSPAN_S3_OWNER_PID: String(process.pid) } });
  } catch (err) {
    // A server that started before the failure (the bucket refused, say) goes too.
    await run('bash', [script, 'stop', dir], { timeout: 30_000 }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const env: Record<string, string> = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  for (const line of fs.readFileSync(path.join(dir, 'env'), 'utf8').split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return {
    dir,
    env,
    bucket: 'podspan',
    async restart(meanwhile) {
      await run('bash', [script, 'stop-server', dir], { timeout: 30_000 });
      await meanwhile?.();
      await run('bash', [script, 'start-server', dir], { timeout: 60_000 });
    },
    async stop() {
      await run('bash', [script, 'stop', dir], { timeout: 30_000 }).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
