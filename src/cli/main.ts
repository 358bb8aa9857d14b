// The `podspan` command. Each subcommand parses its flags here and hands them to its module;
// errors end as one line on stderr and a non-zero exit, never a stack trace.
import { Command, CommanderError, Option } from 'commander';
import { PodspanError } from '../errors';
import { libpcapVersion } from '../capture/session';
import { LineWriter, StdoutWatch, stderr } from './stdout-errors';
import { exitWhenIdle } from './exit-when-idle';
// Subcommands are loaded when run: the agent's and collector's dependencies (gRPC, Kubernetes
// client, pino) cost ~60 ms of start-up that `podspan streams` or `capture -r` never use.

const collect = (value: string, previous: string[] = []) => [...previous, value];
// tcpdump's repeatable flags (-vv, -xx, -tttt) count how often they were given.
const increment = (_value: unknown, previous: number) => previous + 1;

/** Edit distance (with transpositions), to name the known flag nearest an unknown one. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

export function nearestFlag(flag: string, known: string[]): string | undefined {
  const sameKind = known.filter((k) => k.startsWith('--') === flag.startsWith('--'));
  const exactCase = sameKind.find((k) => k.toLowerCase() === flag.toLowerCase());
  if (exactCase) return exactCase;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of sameKind) {
    const dist = distance(flag, k);
    if (dist < bestDistance) [best, bestDistance] = [k, dist];
  }
  return best;
}

/** An unknown flag ends in one line naming it and the nearest known flag of the command. */
function nameNearestFlag(cmd: Command): Command {
  (cmd as unknown as { unknownOption(flag: string): void }).unknownOption = function (this: Command, flag: string) {
    if ((this as unknown as { _allowUnknownOption: boolean })._allowUnknownOption) return; // as commander's own (extcap takes Wireshark's flags)
    const known = this.options.flatMap((o) => [o.short, o.long]).filter((f): f is string => !!f);
    const near = nearestFlag(flag, known);
    this.error(`unknown option '${flag}'${near ? ` (nearest known flag: ${near})` : ''}`, { code: 'commander.unknownOption', exitCode: 2 });
  };
  return cmd;
}

/** The subcommands program() defines (an unknown name builds them all, so one left out here only costs time). */
const SUBCOMMANDS = ['capture', 'streams', 'analyze', 'shadow', 'agent', 'collector', 'export', 'extcap', 'interfaces', 'version'];

/** A stand-in for a subcommand not being run: it takes the calls that build one and builds nothing. */
function unbuilt(): Command {
  const stub: Command = new Proxy({} as Command, { get: () => () => stub });
  return stub;
}

/**
 * The program, with only the subcommand `argv` runs built when it names one: commander makes an
 * Option object per flag, ~2 ms of every start for all subcommands' ~200 flags (BENCHMARKS.md,
 * issue 17). `podspan --help`, `help` or an unknown name build them all.
 */
function program(argv: string[]): Command {
  const only = SUBCOMMANDS.find((name) => name === argv[2]);
  const version = (require('../../package.json') as { version: string }).version;
  const cmd = new Command('podspan')
    .description('port-mirroring capture agent: capture, write pcap/pcapng, forward to collectors')
    .version(version, '-V, --version')
    // The program's flags only before the subcommand: `capture -V LIST` is tcpdump's -V, not the version.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`podspan: ${text.replace(/^error: /, '')}`) });
  const sub = (name: string): Command => (only === undefined || only === name ? cmd.command(name) : unbuilt());

  sub('capture')
    .description('capture packets live (-i) or from a file (-r), to a file (-w, - for standard output) or the terminal, with tcpdump\'s flags')
    .argument('[expression...]', 'BPF filter expression (same as -f)')
    .option('-i, --interface <name>', 'interface to capture on (repeatable)', collect)
    .option('-r, --read <file>', 'read packets from a pcap or pcapng file (gzip, zstd, xz, bzip2 or lz4 compressed too)')
    .option('-V, --file-list <file>', 'read the capture files named in FILE, one per line, in turn as one input, as tcpdump -V (- : the list from standard input)')
    .option('-w, --write <file>', 'write packets to a file (.pcap or .pcapng; - for standard output, pcap unless --format)')
    .addOption(new Option('--format <format>', 'output format, overriding the extension').choices(['pcap', 'pcap-ns', 'pcapng']))
    .option('-f, --filter <expression>', 'BPF filter expression')
    .option('-F, --filter-file <file>', 'read the BPF filter expression from a file (# starts a comment), as tcpdump -F')
    .option('-c <n>', 'stop after n packets')
    .option('-s, --snaplen <bytes>', 'bytes to keep of each packet (0 or none: 262144)')
    .option('-B, --buffer-size <KiB>', 'kernel capture buffer size in KiB')
    .option('--immediate', 'deliver each packet at once (costs CPU; use for low rates)')
    .option('-n, --numeric', 'do not resolve names (podspan never does; accepted like tcpdump\'s -n/-nn)', increment, 0)
    .option('-v, --verbose', 'more detail: the IP header\'s fields (-vv, -vvv accepted)', increment, 0)
    .option('-e, --link-header', 'print the link-level header (MAC addresses, ethertype, VLAN)')
    .option('-x, --hex', 'dump each packet in hex below its line, from the network header (-xx: from the link header)', increment, 0)
    .option('-X, --hex-ascii', 'dump in hex and ASCII (-XX: from the link header)', increment, 0)
    .option('-A, --ascii', 'dump each packet in ASCII, from the network header')
    .option('-q, --quiet', 'print less protocol detail')
    .option('-S, --absolute-tcp-sequence-numbers', 'print TCP sequence and acknowledgement numbers as sent, not relative')
    .option('-#, --number', 'start each line with the packet\'s number')
    .option('--time-stamp-precision <micro|nano>', 'timestamps printed (and pcap written) with microseconds (default) or nanoseconds')
    .option('--nano', 'the same as --time-stamp-precision nano')
    .option('-K, --dont-verify-checksums', 'with -v, do not check TCP and UDP checksums (offloaded checksums are not yet filled in on the sender)')
    .option('-t, --timestamps', '-t: no time; -tt: epoch seconds; -ttt: since the previous packet; -tttt: date and time; -ttttt: since the first', increment, 0)
    .option('-l, --line-buffered', 'line-buffered output (podspan writes lines as each batch arrives anyway)')
    .option('-U, --packet-buffered', 'write each packet to the -w output at once (default: per ring block with -w -, else every second while live)')
    .option('-D, --list-interfaces', 'list the interfaces podspan can capture on, like tcpdump -D, and exit')
    .option('-L, --list-data-link-types', 'list the link types each interface offers, like tcpdump -L, and exit')
    .option('-y, --linktype <type>', 'capture with this link type (libpcap\'s name, e.g. EN10MB, LINUX_SLL; -L lists them)')
    .option('-J, --list-time-stamp-types', 'list the time stamp types each interface can be set to, like tcpdump -J, and exit')
    .option('-j, --time-stamp-type <type>', 'capture with this time stamp type (e.g. host, adapter; -J lists them)')
    .option('-Q, --direction <in|out|inout>', 'capture only received (in), sent (out) or both (inout) packets')
    .option('--count', 'print only the number of packets read with -r')
    .option('--print', 'print packet lines also while writing a file with -w')
    .option('-p, --no-promiscuous-mode', 'do not put the interface into promiscuous mode')
    .option('-C, --file-size <MB>', 'start a new file after this many million bytes')
    .option('-G, --rotate-seconds <s>', 'start a new file every s seconds (with a % in -w the name is a strftime pattern, as tcpdump\'s)')
    .option('-W, --file-count <n>', 'keep only the newest n files (a ring buffer; needs -C or -G)')
    .option('-Z, --relinquish-privileges <user>', 'once capture and the first -w file are open, run as this user (files then belong to it), as tcpdump -Z')
    .option('-z, --post-rotate <program>', 'run PROGRAM FILE on each file closed by rotation (e.g. gzip), one at a time at nice 19, as tcpdump -z')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--timeout-ms <ms>', 'libpcap buffer timeout (latency bound at low rates)', undefined)
    .option('--forward <url>', 'mirror frames to vxlan://HOST[:4789]?vni=N, geneve://HOST[:6081]?vni=N, gre://HOST?key=N, erspan://HOST?session=N&version=2|3 or grpc://HOST:PORT (repeatable; with or instead of -w)', collect)
    .option('--insecure', 'allow a gRPC token-file without TLS (the token crosses the network in the clear)')
    .action(async (expression: string[], opts: Record<string, unknown>) => {
      // -c takes the count to stop at; tcpdump's --count asks for the count only.
      const { c, count, ...rest } = opts;
      const raw = { ...rest, count: c, countOnly: count, expression };
      process.exitCode = await (await import('./capture-command')).runCapture(raw as never, process.stdout, process.stderr);
    });

  // The source flags `streams` and `analyze` share (a capture file or interfaces, filter, limits).
  const captureSource = (c: Command) =>
    c
      .option('-i, --interface <name>', 'interface to capture on (repeatable)', collect)
      .option('-r, --read <file>', 'read packets from a pcap or pcapng file, compressed or not (repeatable, as tcpflow: several files read in turn as one input)', collect)
      .option('-V, --file-list <file>', 'read the capture files named in FILE, one per line, in turn as one input, as tcpdump -V (- : the list from standard input)')
      .option('-f, --filter <expression>', 'BPF filter expression')
      .option('-F, --filter-file <file>', 'read the BPF filter expression from a file (# starts a comment), as tcpdump -F')
      .option('-c, --count <n>', 'stop after n packets')
      .option('-s, --snaplen <bytes>', 'bytes to keep of each packet (0 or none: 262144)')
      .option('-B, --buffer-size <KiB>', 'kernel capture buffer size in KiB')
      .option('-y, --linktype <type>', 'capture with this link type (libpcap\'s name, e.g. EN10MB, LINUX_SLL; podspan capture -L lists them)')
      .option('-j, --time-stamp-type <type>', 'capture with this time stamp type (e.g. host, adapter; podspan capture -J lists them)')
      .option('--duration <seconds>', 'stop after this many seconds');

  captureSource(sub('streams')
    .description('reassemble TCP into one file per stream direction and DIR/index.jsonl (like tcpflow)')
    .argument('[expression...]', 'BPF filter expression (same as -f)')
    .option('-o, --out-dir <dir>', 'folder for the stream files and index.jsonl (created if missing)'))
    .option('--max-flows <n>', 'flow table size; the least recently active flow is evicted beyond it')
    .option('--idle-timeout <seconds>', 'close a stream idle this long (default 120)')
    .option('-b, --max-bytes <n>', 'keep each stream direction up to its first n bytes; the rest is counted, not written (tcpflow -b)')
    .option('--console', 'print the streams on standard output instead of files, each piece after "NAME: " (tcpflow -c)')
    .option('-C, --console-bare', 'print the streams\' bytes alone, without the "NAME: " headers (tcpflow -C)')
    .option('-D, --hex-dump', 'with --console or -C: a hex dump of each piece (tcpflow -D)')
    .option('-g, --color', 'with --console or -C: client to server in blue, server to client in red (tcpflow -g)')
    .option('--binary', 'with --console or -C: unprintable bytes as they are, not as "." (tcpflow -B)')
    .action(async (expression: string[], opts: Record<string, unknown>) => {
      process.exitCode = await (await import('./streams-command')).runStreams({ ...opts, expression } as never, stderr);
      finishedAll = true;
    });

  captureSource(sub('analyze')
    .description('connection, HTTP/gRPC and DNS records and per-server/route latency, errors and retransmissions (DIR/*.jsonl, DIR/summary.json, top lists)')
    .argument('[expression...]', 'BPF filter expression (same as -f)')
    .requiredOption('-o, --out-dir <dir>', 'folder for flows.jsonl, http.jsonl, dns.jsonl and summary.json (created if missing)'))
    .option('--max-servers <n>', 'servers named in the summary; later ones are counted under "other" (default 500)')
    .option('--max-routes <n>', 'routes named per server; later ones are counted under "other" (default 100)')
    .option('--max-samples <n>', 'latency values kept for exact quantiles, all routes together (default 8000000, 8 bytes each)')
    .option('--top <n>', 'rows per top list printed at the end (default 10; 0: none)')
    .option('--flow-timeout <seconds>', 'write a connection idle this long as state "timeout"')
    .option('--alerts', 'detect SYN floods, port scans, request and error surges and noisy clients: DIR/alerts.jsonl and DIR/evidence/*.pcapng')
    .option('--detect <path=value>', 'a detection threshold or size, e.g. synFlood.floor=500, preTriggerSeconds=30 (repeatable; see README, Detection)', collect)
    .action(async (expression: string[], opts: Record<string, unknown>) => {
      process.exitCode = await (await import('./analyze-command')).runAnalyze({ ...opts, expression } as never, stdoutLines(), stderr);
      finishedAll = true;
    });

  captureSource(sub('shadow')
    .description('replay the requests production\'s clients made to a candidate version and report where its answers differ')
    .argument('[expression...]', 'BPF filter expression (same as -f)'))
    .option('--target <url>', 'the candidate: http(s)://HOST[:PORT], or tcp://HOST:PORT with --protocol raw (required)')
    .option('--primary <url>', 'a second copy of the version production runs: differences it shows too are noise')
    .option('--server-port <port>', 'the server side of connections whose SYN was not seen (repeatable; raw: which connections)', collect)
    .option('--protocol <http|raw>', 'http (HTTP/1.x, HTTP/2, gRPC; default) or raw (turn by turn, byte for byte)')
    .option('--methods <list>', 'methods replayed (default GET,HEAD,OPTIONS; others are counted skipped "method")')
    .option('--percent <p>', 'share of connections replayed, whole connections by hash (default 100)')
    .option('--rate <n>', 'at most n requests per second to the candidate')
    .option('--speed <x>', 'with -r: 1 = original pacing (default), 2 = twice as fast, 0 = as fast as possible')
    .option('--ignore <rule>', 'header:NAME (not compared), !header:NAME (compared despite the default list), body:$.PATH, value:REGEX (repeatable)', collect)
    .option('--report <dir>', 'write DIR/summary.json, diffs.jsonl and index.html')
    .option('--marker-header <header>', 'added to every replayed request (default "x-podspan-shadow: 1"; none: no marker)')
    .option('--host <host>', 'the Host (HTTP/2: :authority) replayed requests carry')
    .option('--timeout <s>', 'seconds for the candidate\'s complete answer (default 5)')
    .option('--max-in-flight <n>', 'requests in flight to the candidate at once (default 64)')
    .option('--queue <n>', 'exchanges waiting to be sent; live, more are dropped as "queue_full" (default 10000)')
    .option('--max-routes <n>', 'routes named in the report; later ones are counted under "other" (default 100)')
    .option('--insecure', 'accept any certificate from an https target')
    .option('--nice <n>', 'CPU priority of replay and comparison, 0-19 (default: 19 live, with SCHED_IDLE, so production\'s processes come first; 0 with -r)')
    .action(async (expression: string[], opts: Record<string, unknown>) => {
      process.exitCode = await (await import('./shadow-command')).runShadowCommand({ ...opts, expression } as never, process.stderr);
    });

  sub('agent')
    .description('the node agent: mirror sessions from a config file (and MirrorSession resources in a cluster)')
    .option('--config <file>', 'agent configuration (YAML; default $PODSPAN_CONFIG); without it: this host, rotating pcapng under ./captures')
    .option('--check-config', 'validate --config and exit')
    .option('--metrics-listen <host:port>', 'serve metrics, /healthz and /readyz here (overrides the config)')
    .option('--node <name>', 'this node\'s name (overrides NODE_NAME and the config)')
    .action(async (opts: Record<string, unknown>) => {
      process.exitCode = await (await import('./agent-command')).runAgent(opts as never, process.stderr);
    });

  sub('collector')
    .description('receive mirrored frames from agents over gRPC and write one pcapng per agent')
    .option('--listen <host:port>', 'address to serve on, e.g. 0.0.0.0:50051')
    .option('--out <dir>', 'folder for the capture files (created if missing)')
    .option('--tls-cert <file>', "the collector's certificate (PEM); with --tls-key: TLS")
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option('--client-ca <file>', 'require client certificates signed by this CA (mutual TLS)')
    .option('--token-file <file>', 'refuse agents that do not present this bearer token (needs --tls-cert, or --insecure)')
    .option('--insecure', 'allow --token-file without TLS (agents then send the token in the clear)')
    .option('-C, --file-size <MB>', 'start a new file after this many million bytes')
    .option('-G, --rotate-seconds <s>', 'start a new file every s seconds')
    .option('-W, --file-count <n>', 'keep only the newest n files per agent')
    .option('--vxlan-listen <host:port>', 'also receive VXLAN (e.g. 0.0.0.0:4789) into its own pcapng')
    .option('--geneve-listen <host:port>', 'also receive GENEVE (e.g. 0.0.0.0:6081) into its own pcapng')
    .option('--gre-listen <address>', 'also receive GRE and ERSPAN (a raw socket: CAP_NET_RAW) sent to this address (e.g. 0.0.0.0, [::]) into its own pcapng')
    .option('--metrics-listen <host:port>', 'serve Prometheus metrics, /healthz and /readyz (e.g. 127.0.0.1:9090)')
    .option('--page-cache', "write agents' files through the page cache (default: around it, O_DIRECT, where the file system allows)")
    .option('--max-agents <n>', 'agents with an open file at once; more are refused (default 1024)')
    .option('--max-interfaces <n>', "sources (interfaces) per agent file; later ones' frames are refused (default 4096)")
    .option('--max-vxlan-sources <n>', 'per listener: VXLAN and GENEVE sender/VNI pairs, GRE sender/key and ERSPAN sender/session pairs written; later ones are refused (default 4096)')
    .option('--agent-idle-timeout <s>', "close an agent's file after s seconds without frames; 0: never (default 300)")
    .option('--max-message-mb <MiB>', 'largest batch message accepted (default 4)')
    .option('--max-streams <n>', 'agent streams open at once, more are refused (default 64)')
    .option('--shutdown-timeout <s>', 'on SIGINT/SIGTERM, cancel streams still open after s seconds (default 5)')
    .option('--store <s3://bucket/prefix>', 'upload every closed file (and an index) to S3-compatible object storage')
    .option('--store-spool-mb <MB>', 'closed files waiting for upload, at most (million bytes); beyond, the oldest are deleted and counted (default 10000)')
    .option('--keep-local', 'keep files in --out after their upload')
    .option('--sse <AES256|aws:kms[:key-id]>', 'server-side encryption of the uploaded objects')
    .option('--store-drain-timeout <s>', 'on SIGINT/SIGTERM, upload for at most s seconds more; the rest waits for the next start (default 10)')
    .option('--store-timeout <s>', 'an S3 request with no byte either way for s seconds fails and is retried with backoff (default 30)')
    .action(async (opts: Record<string, unknown>) => {
      process.exitCode = await (await import('./collector-command')).runCollector(opts as never, process.stderr);
    });

  sub('export')
    .description('the packets of pods/nodes over a time range, from captures in object storage, merged into one pcapng')
    .option('--store <s3://bucket/prefix>', 'where the collectors upload (collector --store)')
    .option('--since <time>', 'from (ISO 8601, now, or -10m / -2h / -1d)')
    .option('--until <time>', 'to (default: now)')
    .option('--namespace <ns>', "only pods in this namespace")
    .option('--pod <name>', 'only this pod (repeatable)', collect)
    .option('--selector <k=v>', 'only pods with these labels (repeatable, or k=v,k2=v2)', collect)
    .option('--node <name>', 'only this node')
    .option('-f, --filter <expression>', 'BPF filter expression')
    .option('-w, --write <file>', "the merged pcapng ('-': standard output)")
    .option('--list', 'print what is stored for the filter (files, pods, time ranges, sizes) instead')
    .action(async (opts: Record<string, unknown>) => {
      process.exitCode = await (await import('./export-command')).runExport(opts as never, process.stdout, process.stderr);
    });

  sub('extcap')
    .description("Wireshark's extcap protocol; `podspan extcap install [--collector grpc://HOST:PORT]` adds podspan's sources to Wireshark")
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]')
    .action(async (args: string[]) => {
      process.exitCode = await (await import('./extcap-command')).runExtcap(args, process.stdout, process.stderr);
    });

  sub('interfaces')
    .description('list the interfaces podspan can capture on, with addresses and flags')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      process.exitCode = (await import('./interfaces-command')).runInterfaces(opts.json === true, process.stdout);
    });

  sub('version')
    .description('print podspan and libpcap versions')
    .action(() => {
      process.stdout.write(`podspan ${version}\n${libpcapVersion()}\n`);
    });
  for (const c of [cmd, ...cmd.commands]) nameNearestFlag(c);
  return cmd;
}

// tcpdump's long spellings of flags podspan names otherwise, so that a tcpdump command line runs.
const TCPDUMP_SPELLINGS: Record<string, string> = {
  '--snapshot-length': '--snaplen',
  '--immediate-mode': '--immediate',
  '--micro': '--time-stamp-precision=micro',
};

/** argv with tcpdump's spellings (also as --flag=value) turned into podspan's, up to a bare `--`. */
export function withTcpdumpSpellings(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    if (end !== -1 && i >= end) return arg;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const ours = TCPDUMP_SPELLINGS[flag];
    return ours === undefined ? arg : ours + (eq === -1 ? '' : arg.slice(eq));
  });
}

let stdoutWatch: StdoutWatch;
/** The command ran to its end with everything it started awaited: it may exit at once (exit-when-idle.ts). */
let finishedAll = false;
/** Lines to standard output straight to its descriptor (stdout-errors.ts), its errors watched as the stream's are. */
const stdoutLines = () => new LineWriter(1, (e) => stdoutWatch.failedWith(e));

export async function main(argv: string[]): Promise<void> {
  stdoutWatch = new StdoutWatch('podspan');
  finishedAll = false;
  try {
    const args = withTcpdumpSpellings(argv);
    await program(args).parseAsync(args);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    if (err instanceof PodspanError) {
      process.stderr.write(`podspan: ${err.message}\n`);
      process.exitCode = err.code === 'ERR_USAGE' ? 2 : 1;
      return;
    }
    process.stderr.write(`podspan: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    stdoutWatch.done();
  }
  if (finishedAll) exitWhenIdle();
}
