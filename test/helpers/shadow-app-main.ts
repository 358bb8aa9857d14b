// Run inside a test's network namespace (ip netns exec NS vite-node this-file VERSION HOST PORT):
// the shadow test app (test/helpers/shadow-apps.ts) as a "pod". Prints "ready" on stderr once
// listening; on SIGINT prints what it received as JSON on stdout and exits.
import { startApp, type AppBehaviour } from './shadow-apps';

async function main(): Promise<void> {
  const [version, host, port] = process.argv.slice(2);
  const behaviour: AppBehaviour = version.startsWith('slow:') ? { slowMs: Number(version.slice(5)) } : (version as AppBehaviour);
  const app = await startApp(behaviour, host, Number(port));
  process.on('SIGINT', () => {
    process.stdout.write(JSON.stringify(app.received.map((r) => ({ method: r.method, url: r.url, marker: r.headers['x-podspan-shadow'] ?? null, conn: r.conn }))) + '\n', () => process.exit(0));
  });
  process.stderr.write('ready\n');
}

main().catch((err) => {
  process.stderr.write(`shadow-app: ${(err as Error).message}\n`);
  process.exit(1);
});
