// Run inside a test's network namespace (ip netns exec NS vite-node this-file VERSION HOST
// H2PORT GRPCPORT): the HTTP/2 and gRPC shadow apps (shadow-h2-apps.ts) as a "pod". Prints
// "ready" on stderr once both listen; on SIGINT prints the HTTP/2 streams it received as JSON.
import { grpcApp, h2App, type Closer, type Seen } from './shadow-h2-apps';

async function main(): Promise<void> {
  const [version, host, h2Port, grpcPort] = process.argv.slice(2);
  const closers: Closer[] = [];
  const seen: Seen[] = [];
  await h2App(version as 'v1' | 'v2', closers, seen, host, Number(h2Port));
  await grpcApp(version as 'v1' | 'v2', closers, `${host}:${grpcPort}`);
  process.on('SIGINT', () => process.stdout.write(JSON.stringify(seen) + '\n', () => process.exit(0)));
  process.stderr.write('ready\n');
}

main().catch((err) => {
  process.stderr.write(`shadow-h2-app: ${(err as Error).message}\n`);
  process.exit(1);
});
