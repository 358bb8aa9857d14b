// Typed errors: each names its culprit (interface, filter, file, flag), so the CLI can print one
// clear line and exit non-zero without a stack trace.

export type ErrorCode =
  | 'ERR_INTERFACE'
  | 'ERR_FILTER'
  | 'ERR_INPUT_FILE'
  | 'ERR_CORRUPT_FILE'
  | 'ERR_OUTPUT'
  | 'ERR_USAGE'
  | 'ERR_FORWARD'
  | 'ERR_NATIVE_MODULE'
  | 'ERR_KUBERNETES'
  | 'ERR_STORE'
  | 'ERR_INTERNAL';

export class PodspanError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InterfaceError extends PodspanError {
  constructor(message: string) {
    super('ERR_INTERFACE', message);
  }
}
export class FilterError extends PodspanError {
  constructor(message: string) {
    super('ERR_FILTER', message);
  }
}
export class InputFileError extends PodspanError {
  constructor(message: string) {
    super('ERR_INPUT_FILE', message);
  }
}
export class CorruptFileError extends PodspanError {
  constructor(message: string) {
    super('ERR_CORRUPT_FILE', message);
  }
}
export class OutputError extends PodspanError {
  constructor(message: string) {
    super('ERR_OUTPUT', message);
  }
}
export class UsageError extends PodspanError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}
/** A forwarding target (VXLAN, gRPC collector) could not be set up or used; names the target. */
export class ForwardError extends PodspanError {
  constructor(message: string) {
    super('ERR_FORWARD', message);
  }
}
/** The Kubernetes API refused or failed a request; names the resource and gives the server's message. */
export class KubernetesError extends PodspanError {
  constructor(message: string) {
    super('ERR_KUBERNETES', message);
  }
}
/** The object store (--store s3://...) refused or failed a request; names the bucket/key and the reason. */
export class StoreError extends PodspanError {
  constructor(message: string) {
    super('ERR_STORE', message);
  }
}
export class NativeModuleError extends PodspanError {
  constructor(message: string) {
    super('ERR_NATIVE_MODULE', message);
  }
}

const byCode: Record<string, new (message: string) => PodspanError> = {
  ERR_INTERFACE: InterfaceError,
  ERR_FILTER: FilterError,
  ERR_INPUT_FILE: InputFileError,
  ERR_CORRUPT_FILE: CorruptFileError,
  ERR_OUTPUT: OutputError,
  ERR_USAGE: UsageError,
  ERR_FORWARD: ForwardError,
};

/** Turns an error coming out of the addon ({code, message}) into its typed error. */
export function fromNative(err: unknown): PodspanError {
  if (err instanceof PodspanError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const Ctor = typeof e?.code === 'string' ? byCode[e.code] : undefined;
  return Ctor ? new Ctor(message) : new PodspanError('ERR_INTERNAL', message);
}
