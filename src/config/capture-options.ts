// `podspan capture` flags → validated, typed options. Validation happens here once; the capture
// code trusts what it receives. Every message names the flag at fault.
import { z } from 'zod';
import { UsageError } from '../errors';
import { CAPTURE_FORMATS, formatFromPath, type CaptureFormat } from '../pcap/format';
import type { CaptureOptions } from '../capture/session';
import { parseForwardTarget } from './forward-options';

export const MAX_SNAPLEN = 262144;

/** Raw flag values as the CLI parser hands them over (strings, booleans, arrays). */
export interface RawCaptureFlags {
  interface?: string[];
  read?: string;
  write?: string;
  format?: string;
  filter?: string;
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
}

export interface CaptureRun {
  capture: CaptureOptions;
  /** Seconds after which capture stops by itself. */
  durationSeconds?: number;
  /** True when neither -i nor -r was given: the CLI picks the default interface. */
  defaultInterface: boolean;
}

const intFlag = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: `${flag} takes a whole number` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `${flag} must be between ${min} and ${max}` })
    .optional();

const numberFlag = (flag: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, { message: `${flag} takes a positive number` })
    .transform(Number)
    .refine((n) => n > 0, { message: `${flag} must be greater than 0` })
    .optional();

const flagsSchema = z.object({
  interface: z.array(z.string().min(1, { message: '-i needs an interface name' })).optional(),
  read: z.string().min(1, { message: '-r needs a file name' }).optional(),
  write: z.string().min(1, { message: '-w needs a file name' }).optional(),
  format: z
    .enum(CAPTURE_FORMATS, { errorMap: () => ({ message: `--format must be one of ${CAPTURE_FORMATS.join(', ')}` }) })
    .optional(),
  filter: z.string().optional(),
  count: intFlag('-c', 1),
  snaplen: intFlag('-s', 0, MAX_SNAPLEN),
  bufferSize: intFlag('-B', 1, 4 * 1024 * 1024),
  immediate: z.boolean().optional(),
  promiscuousMode: z.boolean().optional(),
  fileSize: numberFlag('-C'),
  rotateSeconds: intFlag('-G', 1),
  fileCount: intFlag('-W', 1, 99999),
  duration: numberFlag('--duration'),
  timeoutMs: intFlag('--timeout-ms', 1, 60000),
  expression: z.array(z.string()).optional(),
  forward: z.array(z.string()).optional(),
  insecure: z.boolean().optional(),
});

export function parseCaptureFlags(raw: RawCaptureFlags): CaptureRun {
  const parsed = flagsSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0].message);
  const f = parsed.data;

  const trailing = (f.expression ?? []).join(' ').trim();
  if (f.filter !== undefined && trailing) {
    throw new UsageError(`give the filter either with -f or after the options, not both (-f '${f.filter}' and '${trailing}')`);
  }
  const filter = (f.filter ?? trailing).trim();

  if (f.interface?.length && f.read) throw new UsageError('-i and -r conflict: capture live or read a file, not both');
  if (f.read && (f.bufferSize !== undefined || f.immediate)) {
    throw new UsageError('-B and --immediate apply to live capture and conflict with -r');
  }
  const rotating = f.fileSize !== undefined || f.rotateSeconds !== undefined || f.fileCount !== undefined;
  if (rotating && !f.write) throw new UsageError('-C, -G and -W rotate output files and need -w FILE');
  if (f.fileCount !== undefined && f.fileSize === undefined && f.rotateSeconds === undefined) {
    throw new UsageError('-W keeps a ring of files and needs -C or -G to say when a file ends');
  }
  if (f.format && !f.write) throw new UsageError('--format applies to the file given with -w');
  if (f.write && f.read && f.write === f.read) throw new UsageError(`-w ${f.write} would overwrite the file being read`);

  let format: CaptureFormat | undefined;
  if (f.write) format = f.format ?? formatFromPath(f.write);

  const capture: CaptureOptions = {
    // -r -: standard input, as tcpdump reads it (streamed, e.g. from a decompressor).
    source: f.read ? { kind: 'file', path: f.read } : { kind: 'live', interfaces: f.interface ?? [] },
    filter: filter || undefined,
    snaplen: f.snaplen === undefined || f.snaplen === 0 ? MAX_SNAPLEN : f.snaplen,
    promisc: f.promiscuousMode !== false,
    immediate: f.immediate === true,
    bufferKiB: f.bufferSize,
    timeoutMs: f.timeoutMs ?? 100,
    count: f.count,
    output:
      f.write && format
        ? {
            path: f.write,
            format,
            rotateBytes: f.fileSize !== undefined ? Math.round(f.fileSize * 1_000_000) : undefined,
            rotateSeconds: f.rotateSeconds,
            rotateFiles: f.fileCount,
          }
        : undefined,
    forward: f.forward?.length ? f.forward.map((url) => parseForwardTarget(url, { insecure: f.insecure })) : undefined,
  };
  return {
    capture,
    durationSeconds: f.duration,
    defaultInterface: !f.read && !(f.interface?.length),
  };
}
