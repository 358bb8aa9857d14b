// Standard output that cannot be written: a closed pipe (`| head`) ends quietly, as tcpdump's
// output does (capture stops on it); anything else (a full disk) is one line and exit 1, where
// Node's unhandled 'error' event printed a stack trace (`podspan version > /dev/full`).

/** Watches process.stdout; call the returned function once the command's own status is set. */
export function watchStdout(program: string): () => void {
  let failed = false;
  const fail = () => {
    if (!process.exitCode) process.exitCode = 1;
  };
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || failed) return;
    failed = true;
    process.stderr.write(`${program}: standard output: ${e.message}\n`);
    fail(); // after the command's status, when the error came last
  });
  return () => failed && fail(); // the command's status came after the error
}
