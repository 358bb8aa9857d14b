// `podspan capture` flags → validated, typed options. Validation happens here once; the capture
// code trusts what it receives. Every message names the flag at fault.
import fs from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../errors';
import { CAPTURE_FORMATS, formatFromPath, type CaptureFormat } from '../pcap/format';
import { pcapTypeValue, type CaptureOptions } from '../capture/session';
import type { PrintOptions, TimestampMode, TimestampPrecision } from '../cli/print';
import { lookUpUser, type SystemUser } from '../runtime/privileges';
import { findCommand } from './command-path';
import { parseForwardTarget } from './forward-options';
import { intFlag, MAX_FILE_MB, MAX_TIMER_SECONDS, positiveNumber } from './number-flags';

export const MAX_SNAPLEN = 262144;

/** Raw flag values as the CLI parser hands them over (strings, booleans, arrays). */
export interface RawCaptureFlags {
  interface?: string[];
  /** -r: one file, or (streams, analyze, shadow: tcpflow's repeatable -r) several read in turn as one input. */
  read?: string | string[];
  /** -V: a file naming capture files, one per line, read in turn as one input (tcpdump's -V). */
  fileList?: string;
  write?: string;
  format?: string;
  filter?: string;
  /** -F: the filter expression read from a file (tcpdump's -F). */
  filterFile?: string;
  /** -z: a program run as PROGRAM FILE on each file closed by rotation (tcpdump's -z). */
  postRotate?: string;
  /** -Z: the user to become once capture is open (tcpdump's -Z). */
  relinquishPrivileges?: string;
  count?: string;
  snaplen?: string;
  bufferSize?: string;
  immediate?: boolean;
  promiscuousMode?: boolean;
  fileSize?: string;
  rotateSeconds?: string;
  fileCount?: string;
  duration?: string;
  timeoutMs?: string;
  expression?: string[];
  forward?: string[];
  /** --insecure: allow a gRPC bearer token without TLS. */
  insecure?: boolean;
  // tcpdump's flags; counted ones arrive as how often they were given (-vv: 2).
  numeric?: number;
  verbose?: number;
  linkHeader?: boolean;
  hex?: number;
  hexAscii?: number;
  ascii?: boolean;
  quiet?: boolean;
  /** -S */
  absoluteTcpSequenceNumbers?: boolean;
  /** -# */
  number?: boolean;
  /** --time-stamp-precision micro|nano, and --nano (tcpdump's) */
  timeStampPrecision?: string;
  nano?: boolean;
  /** -K */
  dontVerifyChecksums?: boolean;
  timestamps?: number;
  lineBuffered?: boolean;
  packetBuffered?: boolean;
  listInterfaces?: boolean;
  /** -L, -y: list the link types, capture with one of them (by libpcap's name). */
  listDataLinkTypes?: boolean;
  linktype?: string;
  /** -J, -j: list the time stamp types, capture with one of them. */
  listTimeStampTypes?: boolean;
  timeStampType?: string;
  direction?: string;
  countOnly?: boolean;
  print?: boolean;
}

/** What goes to standard output. */
export type CaptureOutputMode =
  | { kind: 'lines'; print: PrintOptions }
  | { kind: 'count' }
  | { kind: 'none' };

export interface CaptureRun {
  capture: CaptureOptions;
  /** Seconds after which capture stops by itself. */
  durationSeconds?: number;
  /** True when neither -i nor -r was given: the CLI picks the default interface. */
  defaultInterface: boolean;
  /** -D: list the interfaces, -L: each interface's link types, -J: its time stamp types; and exit. */
  listing?: 'interfaces' | 'link-types' | 'time-stamp-types';
  /** Packet lines (without -w, or with --print), the count only (--count), or nothing. */
  stdout: CaptureOutputMode;
  /** -w -: the capture file goes to standard output. */
  fileToStdout: boolean;
  /** -z: the program to run on each file closed by rotation. */
  postRotateCommand?: string;
  /** -Z: the user to become once capture and the first output file are open. */
  runAs?: SystemUser;
}

const fileName = z.string().min(1, { message: '-r needs a file name' });
const flagsSchema = z.object({
  interface: z.array(z.string().min(1, { message: '-i needs an interface name' })).optional(),
  read: z.union([fileName, z.array(fileName)]).optional(),
  fileList: z.string().min(1, { message: '-V needs a file name' }).optional(),
  write: z.string().min(1, { message: '-w needs a file name' }).optional(),
  format: z
    .enum(CAPTURE_FORMATS, { errorMap: () => ({ message: `--format must be one of ${CAPTURE_FORMATS.join(', ')}` }) })
    .optional(),
  filter: z.string().optional(),
  filterFile: z.string().min(1, { message: '-F needs a file name' }).optional(),
  postRotate: z.string().min(1, { message: '-z needs a program' }).optional(),
  relinquishPrivileges: z.string().min(1, { message: '-Z needs a user' }).optional(),
  count: intFlag('-c', 1, Number.MAX_SAFE_INTEGER),
  snaplen: intFlag('-s', 0, MAX_SNAPLEN),
  bufferSize: intFlag('-B', 1, 4 * 1024 * 1024),
  immediate: z.boolean().optional(),
  promiscuousMode: z.boolean().optional(),
  fileSize: positiveNumber('-C', MAX_FILE_MB).optional(),
  rotateSeconds: intFlag('-G', 1, MAX_TIMER_SECONDS),
  fileCount: intFlag('-W', 1, 99999),
  duration: positiveNumber('--duration', MAX_TIMER_SECONDS).optional(),
  timeoutMs: intFlag('--timeout-ms', 1, 60000),
  expression: z.array(z.string()).optional(),
  forward: z.array(z.string()).optional(),
  insecure: z.boolean().optional(),
  numeric: z.number().optional(),
  verbose: z.number().max(3, { message: '-v is given at most 3 times (-vvv)' }).optional(),
  linkHeader: z.boolean().optional(),
  hex: z.number().max(2, { message: '-x is given at most twice (-xx)' }).optional(),
  hexAscii: z.number().max(2, { message: '-X is given at most twice (-XX)' }).optional(),
  ascii: z.boolean().optional(),
  quiet: z.boolean().optional(),
  absoluteTcpSequenceNumbers: z.boolean().optional(),
  number: z.boolean().optional(),
  timeStampPrecision: z.enum(['micro', 'nano'], { errorMap: () => ({ message: '--time-stamp-precision takes micro or nano' }) }).optional(),
  nano: z.boolean().optional(),
  dontVerifyChecksums: z.boolean().optional(),
  timestamps: z.number().max(5, { message: '-t is given at most 5 times (-ttttt)' }).optional(),
  lineBuffered: z.boolean().optional(),
  packetBuffered: z.boolean().optional(),
  listInterfaces: z.boolean().optional(),
  listDataLinkTypes: z.boolean().optional(),
  linktype: z.string().min(1, { message: '-y needs a link type name' }).optional(),
  listTimeStampTypes: z.boolean().optional(),
  timeStampType: z.string().min(1, { message: '-j needs a time stamp type name' }).optional(),
  direction: z.enum(['in', 'out', 'inout'], { errorMap: () => ({ message: '-Q takes in, out or inout' }) }).optional(),
  countOnly: z.boolean().optional(),
  print: z.boolean().optional(),
});

const STDOUT = '-';
type Flags = z.infer<typeof flagsSchema>;

/** A file or files are read (-r or -V), not live interfaces; `fileFlag` names the flag that said so. */
const reading = (f: Flags) => f.read !== undefined || f.fileList !== undefined;
const fileFlag = (f: Flags) => (f.fileList !== undefined ? '-V' : '-r');

/** -V LIST: the capture files it names, one per line (blank lines skipped), as tcpdump reads it; '-': standard input. */
function readFileList(list: string): string[] {
  const text = readTextFile('-V', list, list === STDOUT ? 0 : list);
  const files = text.split('\n').map((line) => line.replace(/\r$/, '')).filter((line) => line !== '');
  if (files.length === 0) throw new UsageError(`-V ${list}: names no file`);
  if (files.includes(STDOUT)) throw new UsageError(`-V ${list}: '-' (standard input) cannot be one of the files of a list`);
  return files;
}

/** A text file a flag names (-F, -V), read whole; what stops it is one line naming the flag and the file. */
function readTextFile(flag: string, name: string, file: string | number = name): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag} ${name}: ${code === 'EISDIR' ? 'a folder, not a file' : code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? (err as Error).message})`}`);
  }
  if (text.includes('\0')) throw new UsageError(`${flag} ${name}: not a text file`);
  return text;
}

/** -D, -L or -J (one of them, each without -r). */
function listing(f: Flags): CaptureRun['listing'] {
  const asked = [f.listInterfaces && '-D', f.listDataLinkTypes && '-L', f.listTimeStampTypes && '-J'].filter(Boolean);
  if (asked.length > 1) throw new UsageError(`${asked.join(' and ')} conflict: list one thing at a time`);
  if (asked.length && reading(f)) throw new UsageError(`${asked[0]} lists what live interfaces offer and conflicts with ${fileFlag(f)}`);
  if (f.listInterfaces) return 'interfaces';
  if (f.listDataLinkTypes) return 'link-types';
  return f.listTimeStampTypes ? 'time-stamp-types' : undefined;
}

/** -y NAME or -j NAME → libpcap's value; as tcpdump, an unknown name is refused before anything opens. */
function pcapType(kind: 'link' | 'time-stamp', flag: string, name: string | undefined, f: Flags): number | undefined {
  if (name === undefined) return undefined;
  const list = kind === 'link' ? '-L' : '-J';
  if (reading(f)) throw new UsageError(`${flag} ${name} sets how a live interface captures and conflicts with ${fileFlag(f)}`);
  const value = pcapTypeValue(kind, name);
  if (value === undefined) throw new UsageError(`${flag} ${name}: invalid ${kind === 'link' ? 'data link' : 'time stamp'} type (${list} lists an interface's)`);
  return value;
}

/** A filter file's expression (-F): as tcpdump reads it, '#' to the end of a line is a comment. */
function readFilterFile(file: string): string {
  return readTextFile('-F', file)
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .replace(/\s+/g, ' ');
}

/** --nano, or --time-stamp-precision (micro unless given). */
function precision(f: Flags): TimestampPrecision {
  if (f.nano && f.timeStampPrecision === 'micro') throw new UsageError('--nano and --time-stamp-precision micro conflict: pick one');
  return f.nano ? 'nano' : f.timeStampPrecision ?? 'micro';
}

function printOptions(f: Flags): PrintOptions {
  const dumps = [f.hex && 'x', f.hexAscii && 'X', f.ascii && 'A'].filter(Boolean);
  if (dumps.length > 1) throw new UsageError(`-${dumps.join(', -')} conflict: pick one way to dump packet bytes`);
  let dump: PrintOptions['dump'];
  if (f.hex) dump = { kind: 'hex', withLink: f.hex > 1 };
  else if (f.hexAscii) dump = { kind: 'hex-ascii', withLink: f.hexAscii > 1 };
  else if (f.ascii) dump = { kind: 'ascii', withLink: false };
  return {
    verbose: f.verbose ?? 0,
    link: f.linkHeader === true,
    quiet: f.quiet === true,
    timestamps: (f.timestamps ?? 0) as TimestampMode,
    dump,
    absoluteSeq: f.absoluteTcpSequenceNumbers === true,
    numbered: f.number === true,
    precision: precision(f),
    noChecksums: f.dontVerifyChecksums === true,
  };
}

function stdoutMode(f: Flags): CaptureOutputMode {
  const toStdout = f.write === STDOUT;
  if (f.countOnly && !reading(f)) throw new UsageError('--count counts the packets of a file read with -r (or the files of -V)');
  if (f.countOnly && (f.write || f.print)) throw new UsageError('--count prints only the packet count and conflicts with -w and --print');
  if (f.print && !f.write) throw new UsageError('--print prints packet lines while -w writes a file; without -w lines are printed anyway');
  if (f.print && toStdout) throw new UsageError('--print and -w - both write to standard output');
  if (f.countOnly) return { kind: 'count' };
  if (f.print || (!f.write && !f.forward?.length)) return { kind: 'lines', print: printOptions(f) };
  return { kind: 'none' };
}

export function parseCaptureFlags(raw: RawCaptureFlags): CaptureRun {
  const parsed = flagsSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0].message);
  const f = parsed.data;

  const trailing = (f.expression ?? []).join(' ').trim();
  if (f.filter !== undefined && trailing) {
    throw new UsageError(`give the filter either with -f or after the options, not both (-f '${f.filter}' and '${trailing}')`);
  }
  if (f.filterFile !== undefined && (f.filter !== undefined || trailing)) {
    throw new UsageError(`-F ${f.filterFile} gives the filter: drop '${f.filter ?? trailing}' (tcpdump would ignore it silently)`);
  }
  const filter = (f.filterFile !== undefined ? readFilterFile(f.filterFile) : f.filter ?? trailing).trim();

  const reads = f.read === undefined ? [] : typeof f.read === 'string' ? [f.read] : f.read;
  if (reads.length && f.fileList !== undefined) throw new UsageError(`-V ${f.fileList} and -r ${reads[0]} conflict: read files with -r, or several listed in -V's file`);
  if (reads.length > 1 && reads.includes(STDOUT)) throw new UsageError(`-r - (standard input) cannot be one of several -r files`);
  if (f.interface?.length && reading(f)) throw new UsageError(`-i and ${fileFlag(f)} conflict: capture live or read a file, not both`);
  if (reading(f) && (f.bufferSize !== undefined || f.immediate)) {
    throw new UsageError(`-B and --immediate apply to live capture and conflict with ${fileFlag(f)}`);
  }
  const files = f.fileList !== undefined ? readFileList(f.fileList) : reads;
  const rotating = f.fileSize !== undefined || f.rotateSeconds !== undefined || f.fileCount !== undefined;
  if (rotating && !f.write) throw new UsageError('-C, -G and -W rotate output files and need -w FILE');
  if (f.fileCount !== undefined && f.fileSize === undefined && f.rotateSeconds === undefined) {
    throw new UsageError('-W keeps a ring of files and needs -C or -G to say when a file ends');
  }
  if (f.postRotate !== undefined) {
    if (f.fileSize === undefined && f.rotateSeconds === undefined) throw new UsageError(`-z ${f.postRotate} runs on each file closed by rotation: it needs -C or -G (and -w FILE)`);
    if (!findCommand(f.postRotate)) {
      const what = f.postRotate.includes('/') ? 'not an executable file' : 'no such program on PATH';
      throw new UsageError(`-z ${f.postRotate}: ${what} (as tcpdump's, -z takes one program, run as PROGRAM FILE)`);
    }
  }
  const runAs = f.relinquishPrivileges === undefined ? undefined : lookUpUser(f.relinquishPrivileges);
  if (f.relinquishPrivileges !== undefined && !runAs) throw new UsageError(`-Z ${f.relinquishPrivileges}: no such user`);
  if (f.format && !f.write) throw new UsageError('--format applies to the file given with -w');
  if (f.write === STDOUT && rotating) throw new UsageError('-C, -G and -W rotate files and conflict with -w - (standard output)');
  if (f.direction && reading(f)) throw new UsageError(`-Q selects the direction of live capture and conflicts with ${fileFlag(f)}`);
  if (f.write && f.write !== STDOUT && files.includes(f.write)) throw new UsageError(`-w ${f.write} would overwrite the file being read`);

  let format: CaptureFormat | undefined;
  if (f.write) format = f.format ?? (f.write === STDOUT ? 'pcap' : formatFromPath(f.write));
  // As tcpdump: pcap written with nanosecond precision keeps the nanoseconds (pcapng always does).
  if (format === 'pcap' && !f.format && precision(f) === 'nano') format = 'pcap-ns';
  const stdout = stdoutMode(f);

  const capture: CaptureOptions = {
    // -r -: standard input, as tcpdump reads it (streamed, e.g. from a decompressor).
    source: files.length ? { kind: 'file', path: files[0], ...(files.length > 1 ? { morePaths: files.slice(1) } : {}) } : { kind: 'live', interfaces: f.interface ?? [] },
    filter: filter || undefined,
    snaplen: f.snaplen === undefined || f.snaplen === 0 ? MAX_SNAPLEN : f.snaplen,
    promisc: f.promiscuousMode !== false,
    immediate: f.immediate === true,
    bufferKiB: f.bufferSize,
    timeoutMs: f.timeoutMs ?? 100,
    count: f.count,
    direction: f.direction,
    // As tcpdump: "any" in cooked v2, whose header names the interface and the direction.
    anyCookedV2: true,
    linkType: pcapType('link', '-y', f.linktype, f),
    timeStampType: pcapType('time-stamp', '-j', f.timeStampType, f),
    // A pipe's reader sees packets as they arrive: per ring block, or per packet with -U.
    flushPerBlock: f.write === STDOUT || f.packetBuffered === true,
    flushPerPacket: f.packetBuffered === true,
    output:
      f.write && format
        ? {
            path: f.write,
            format,
            rotateBytes: f.fileSize !== undefined ? Math.round(f.fileSize * 1_000_000) : undefined,
            rotateSeconds: f.rotateSeconds,
            rotateFiles: f.fileCount,
            // As tcpdump: with -G a % in the name makes it a strftime pattern.
            strftimeNames: f.rotateSeconds !== undefined && f.write.includes('%'),
            listRotated: f.postRotate !== undefined,
          }
        : undefined,
    forward: f.forward?.length ? f.forward.map((url) => parseForwardTarget(url, { insecure: f.insecure })) : undefined,
  };
  return {
    capture,
    durationSeconds: f.duration,
    defaultInterface: !reading(f) && !(f.interface?.length),
    listing: listing(f),
    stdout,
    fileToStdout: f.write === STDOUT,
    postRotateCommand: f.postRotate,
    runAs,
  };
}
